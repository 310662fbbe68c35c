//! A wallet that makes a lot of traffic at a real mint quickly: it speaks the mint's HTTP API
//! (NUT-03/04) itself, with the `cashu` crate's blinding, and keeps its proofs as 1-sat coins so
//! that every mint and swap moves up to a thousand entries (the mint's array limit).

use cashu::dhke::{blind_message, construct_proofs};
use cashu::nuts::{BlindSignature, BlindedMessage, Id, KeySet, Keys, Proof};
use cashu::secret::Secret;
use cashu::{Amount, SecretKey};
use serde_json::{json, Value};

/// The mint's array limit (nutshell's `max_array_length`).
pub const MAX_ARRAY: usize = 1_000;

/// A wallet of 1-sat proofs.
pub struct BulkWallet {
    http: reqwest::Client,
    url: String,
    /// Unspent proofs.
    pub proofs: Vec<Proof>,
}

/// Blinded messages of 1 sat each, with what unblinds their signatures.
pub struct Outputs {
    /// What the mint signs.
    pub messages: Vec<BlindedMessage>,
    /// The secrets.
    pub secrets: Vec<Secret>,
    /// The blinding factors.
    pub rs: Vec<SecretKey>,
}

/// `n` outputs of 1 sat of `keyset`.
pub fn outputs(keyset: Id, n: usize) -> Outputs {
    let mut o = Outputs {
        messages: Vec::with_capacity(n),
        secrets: Vec::with_capacity(n),
        rs: Vec::with_capacity(n),
    };
    for _ in 0..n {
        let secret = Secret::generate();
        let (b, r) = blind_message(&secret.to_bytes(), None).expect("blind");
        o.messages
            .push(BlindedMessage::new(Amount::from(1), keyset, b));
        o.secrets.push(secret);
        o.rs.push(r);
    }
    o
}

impl BulkWallet {
    /// A wallet of the mint at `url`.
    pub fn new(url: &str) -> Self {
        BulkWallet {
            http: reqwest::Client::new(),
            url: url.to_string(),
            proofs: Vec::new(),
        }
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = r.status();
        let v: Value = r.json().await.expect("JSON answer");
        assert!(status.is_success(), "POST {path}: {status} {v}");
        v
    }

    /// The active `sat` keyset (its id and keys) and every keyset's input fee (ppk).
    async fn active_keyset(&self) -> (Id, Keys, std::collections::HashMap<String, u64>) {
        let sets: Value = self
            .http
            .get(format!("{}/v1/keysets", self.url))
            .send()
            .await
            .expect("keysets")
            .json()
            .await
            .expect("keysets JSON");
        let active = sets["keysets"]
            .as_array()
            .expect("keysets")
            .iter()
            .find(|k| k["active"] == json!(true) && k["unit"] == json!("sat"))
            .expect("an active sat keyset")
            .clone();
        let fees = sets["keysets"]
            .as_array()
            .expect("keysets")
            .iter()
            .map(|k| {
                (
                    k["id"].as_str().unwrap_or("").to_string(),
                    k["input_fee_ppk"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        let id = active["id"].as_str().expect("id").to_string();
        let keys: Value = self
            .http
            .get(format!("{}/v1/keys/{id}", self.url))
            .send()
            .await
            .expect("keys")
            .json()
            .await
            .expect("keys JSON");
        let set: KeySet =
            serde_json::from_value(keys["keysets"][0].clone()).expect("a keyset with its keys");
        (set.id, set.keys, fees)
    }

    /// Mints `n` (≤ 1000) 1-sat proofs: a Lightning invoice the FakeWallet pays, then the mint.
    pub async fn mint(&mut self, n: usize) {
        assert!(n <= MAX_ARRAY);
        let quote = self
            .post("/v1/mint/quote/bolt11", json!({"amount": n, "unit": "sat"}))
            .await;
        let id = quote["quote"].as_str().expect("quote id").to_string();
        for _ in 0..100 {
            let q: Value = self
                .http
                .get(format!("{}/v1/mint/quote/bolt11/{id}", self.url))
                .send()
                .await
                .expect("quote state")
                .json()
                .await
                .expect("quote JSON");
            if q["state"] == json!("PAID") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let (keyset, keys, _) = self.active_keyset().await;
        let out = outputs(keyset, n);
        let answer = self
            .post(
                "/v1/mint/bolt11",
                json!({"quote": id, "outputs": out.messages}),
            )
            .await;
        self.take(answer, out, &keys);
    }

    /// Swaps up to 1000 proofs for fresh 1-sat proofs of the active keyset, paying the input
    /// fee; returns the number of inputs spent.
    pub async fn swap(&mut self) -> usize {
        self.swap_n(MAX_ARRAY).await.len()
    }

    /// Swaps `n` proofs (at most 1000, at most what it has); returns the `Y`s (hex) it spent.
    pub async fn swap_n(&mut self, n: usize) -> Vec<String> {
        let (keyset, keys, fees) = self.active_keyset().await;
        let n = self.proofs.len().min(MAX_ARRAY).min(n);
        if n == 0 {
            return Vec::new();
        }
        let inputs: Vec<Proof> = self.proofs.drain(..n).collect();
        // NUT-02: each input pays its keyset's fee, in parts per thousand, rounded up in all.
        let ppk: u64 = inputs
            .iter()
            .map(|p| fees.get(&p.keyset_id.to_string()).copied().unwrap_or(0))
            .sum();
        let fee = ppk.div_ceil(1000) as usize;
        let out = outputs(keyset, n - fee);
        let answer = self
            .post(
                "/v1/swap",
                json!({"inputs": &inputs, "outputs": out.messages}),
            )
            .await;
        self.take(answer, out, &keys);
        inputs
            .iter()
            .map(|p| {
                cashu::dhke::hash_to_curve(&p.secret.to_bytes())
                    .expect("Y")
                    .to_hex()
            })
            .collect()
    }

    fn take(&mut self, answer: Value, out: Outputs, keys: &Keys) {
        let signatures: Vec<BlindSignature> =
            serde_json::from_value(answer["signatures"].clone()).expect("signatures");
        let proofs = construct_proofs(signatures, out.rs, out.secrets, keys).expect("proofs");
        self.proofs.extend(proofs);
    }
}
