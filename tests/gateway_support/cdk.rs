//! A real cdk mint (cdk 0.18) in process, the testkit's (`mintwatch_testkit::cdk_mint`: its
//! PostgreSQL books, its fake Lightning backend, its HTTP API on a free port), on a fresh
//! database per test, and cdk's own wallet making the traffic. What its database says is read
//! back with SQL, as the gateway never does through cdk.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use cdk::amount::SplitTarget;
use cdk::nuts::{CurrencyUnit, PaymentMethod};
use cdk::wallet::{ReceiveOptions, SendOptions, Wallet};
use cdk::{Amount, Mint, StreamExt};
use mintwatch_testkit::cdk_mint::{fake_invoice, seed_from_text, CdkMint as RunningMint};
use sqlx::Row;

use crate::gateway_support::nutshell::Ledger;
use crate::gateway_support::MintUnderTest;

/// A running cdk mint, its database and its HTTP server.
pub struct CdkMint {
    /// The mint itself (keyset rotation goes through it, as cdk-mintd's RPC does).
    pub mint: Arc<Mint>,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Its PostgreSQL database.
    pub db: String,
    /// The secret its nostr key derives from.
    pub seed: String,
    running: RunningMint,
    databases: Vec<String>,
}

/// A fresh database on the local PostgreSQL, as a URL.
async fn fresh_database(prefix: &str) -> String {
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let url = format!("{}/{name}", mintwatch_testkit::server_url());
    mintwatch_testkit::ensure_database(&url)
        .await
        .expect("create database");
    url
}

impl CdkMint {
    /// Starts a mint whose `/v1/info` `pubkey` is the key derived from `seed` (as an operator
    /// sets cdk-mintd's `[mint_info] pubkey`): the testkit's in-process mint on a fresh database.
    pub async fn start(seed: &str) -> CdkMint {
        let db = fresh_database("cdk_mint").await;
        let keys = mintwatch_gateway::key::from_nutshell_seed(seed).expect("key");
        let running = RunningMint::start(&db, "cdk test mint", &keys, &seed_from_text(seed))
            .await
            .expect("start the cdk mint");
        CdkMint {
            mint: running.mint.clone(),
            url: running.url.clone(),
            db: db.clone(),
            seed: seed.to_string(),
            running,
            databases: vec![db],
        }
    }

    /// A cdk wallet of this mint, with its own PostgreSQL database.
    pub async fn wallet(&mut self, name: &str) -> Wallet {
        cdk_wallet(&self.url, &self.seed, name, &mut self.databases).await
    }

    /// Rotates the sat keyset: a new one is active, the old one deactivated.
    pub async fn rotate(&self) {
        let amounts: Vec<u64> = (0..32).map(|i| 1u64 << i).collect();
        self.mint
            .rotate_keyset(CurrencyUnit::Sat, amounts, 0, false, None)
            .await
            .expect("rotate the keyset");
    }

    /// Reads the mint's own database.
    pub async fn ledger(&self) -> Ledger {
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new()
            .connect(&self.db)
            .await
            .expect("mint db");
        let ledger = read_ledger(&pool, "encode({}, 'hex')").await;
        pool.close().await;
        ledger
    }

    /// Stops the server and drops the mint's and the wallets' databases.
    pub async fn stop(self) {
        self.running.stop().await;
        for db in self.databases {
            let _ = mintwatch_testkit::database::drop_database(&db).await;
        }
    }
}

impl MintUnderTest for CdkMint {
    fn url(&self) -> &str {
        &self.url
    }
    fn db(&self) -> &str {
        &self.db
    }
    fn seed(&self) -> &str {
        &self.seed
    }
}

/// A cdk wallet of the mint at `url` (cdk's HTTP client), with its own PostgreSQL database
/// (added to `databases`, dropped with the mint).
/// A cdk mint the tests drive the same way, in process or as cdk-mintd.
#[allow(async_fn_in_trait)]
pub trait CdkUnderTest: MintUnderTest {
    /// A cdk wallet of the mint (over HTTP), with its own PostgreSQL database.
    async fn wallet(&mut self, name: &str) -> Wallet;
    /// Deactivates the active `sat` keyset and activates a new one.
    async fn rotate(&mut self);
    /// The mint's own books.
    async fn ledger(&self) -> Ledger;
    /// Stops the mint and drops the wallets' databases.
    async fn stop(self);
}

impl CdkUnderTest for CdkMint {
    async fn wallet(&mut self, name: &str) -> Wallet {
        CdkMint::wallet(self, name).await
    }
    async fn rotate(&mut self) {
        CdkMint::rotate(self).await
    }
    async fn ledger(&self) -> Ledger {
        CdkMint::ledger(self).await
    }
    async fn stop(self) {
        CdkMint::stop(self).await
    }
}

pub async fn cdk_wallet(url: &str, seed: &str, name: &str, databases: &mut Vec<String>) -> Wallet {
    let db = fresh_database(&format!("cdk_wallet_{name}")).await;
    let store = cdk_postgres::new_wallet_pg_database(db.as_str())
        .await
        .expect("wallet db");
    databases.push(db);
    let seed = seed_from_text(&format!("{seed} wallet {name}"));
    Wallet::new(url, CurrencyUnit::Sat, Arc::new(store), seed, None).expect("wallet")
}

/// What a cdk mint's books say (cdk 0.18's `proof`, `blind_signature` and `keyset`, the same
/// tables on PostgreSQL and SQLite); `hex` turns a BLOB/BYTEA column `{}` into lowercase hex.
pub async fn read_ledger(pool: &sqlx::AnyPool, hex: &str) -> Ledger {
    let hex = |column: &str| hex.replace("{}", column);
    let mut ledger = Ledger::default();
    let proofs = format!(
        "SELECT {} AS y, CAST(amount AS BIGINT) AS amount, keyset_id, state FROM proof",
        hex("y")
    );
    for r in sqlx::query(&proofs).fetch_all(pool).await.expect("proof") {
        let state: String = r.get("state");
        if state == "SPENT" {
            let amount: i64 = r.get("amount");
            ledger
                .spent
                .insert(r.get("y"), (amount as u64, r.get("keyset_id")));
        } else if state == "PENDING" {
            ledger.pending += 1;
        }
    }
    let signatures = format!(
        "SELECT {} AS b, {} AS c, CAST(amount AS BIGINT) AS amount, keyset_id
         FROM blind_signature WHERE c IS NOT NULL",
        hex("blinded_message"),
        hex("c")
    );
    for r in sqlx::query(&signatures)
        .fetch_all(pool)
        .await
        .expect("blind_signature")
    {
        let amount: i64 = r.get("amount");
        ledger
            .issued
            .insert(r.get("b"), (r.get("c"), amount as u64, r.get("keyset_id")));
    }
    // The epoch is the keyset's place among the unit's keysets in the order cdk derived them
    // (cdk's first keyset has derivation index 1, not 0).
    let rows = sqlx::query(
        "SELECT id, unit, CAST(CASE WHEN active THEN 1 ELSE 0 END AS BIGINT) AS active
         FROM keyset ORDER BY unit, derivation_path_index",
    )
    .fetch_all(pool)
    .await
    .expect("keyset");
    let mut next: BTreeMap<String, u64> = BTreeMap::new();
    for r in rows {
        let unit: String = r.get("unit");
        let active: i64 = r.get("active");
        let epoch = next.entry(unit.clone()).or_insert(0);
        ledger
            .keysets
            .insert(r.get("id"), (unit, active != 0, *epoch));
        *epoch += 1;
    }
    ledger
}

/// Mints `amount` sat into `wallet` (the fake backend pays the invoice at once).
pub async fn fund(wallet: &Wallet, amount: u64) {
    let quote = wallet
        .mint_quote(
            PaymentMethod::BOLT11,
            Some(Amount::from(amount)),
            None,
            None,
        )
        .await
        .expect("mint quote");
    wallet
        .proof_stream(quote, SplitTarget::default(), None)
        .next()
        .await
        .expect("proofs")
        .expect("minted");
}

/// `from` sends `amount` to `to` as a token, which `to` receives (a swap at each end).
pub async fn send_receive(from: &Wallet, to: &Wallet, amount: u64) {
    let prepared = from
        .prepare_send(Amount::from(amount), SendOptions::default())
        .await
        .expect("prepare send");
    let token = prepared.confirm(None).await.expect("send");
    to.receive(&token.to_string(), ReceiveOptions::default())
        .await
        .expect("receive");
}

/// Pays a fake Lightning invoice of `amount` sat from `wallet` (a melt).
pub async fn melt(wallet: &Wallet, amount: u64) {
    let quote = wallet
        .melt_quote(PaymentMethod::BOLT11, fake_invoice(amount), None, None)
        .await
        .expect("melt quote");
    wallet
        .prepare_melt(&quote.id, HashMap::new())
        .await
        .expect("prepare melt")
        .confirm()
        .await
        .expect("melt");
}
