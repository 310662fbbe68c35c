//! Every row of the BIP-340 test vectors through the signature checks the event path uses
//! (`verify_schnorr`, libsecp256k1) and the any-length verifier (`verify_schnorr_any`), plus
//! signing where the row gives a secret key.

mod common;

use mintwatch_protocol::event::{verify_schnorr, verify_schnorr_any};
use secp256k1::{Keypair, Message, Parity, PublicKey, Scalar, SecretKey, SECP256K1};
use serde_json::Value;
use sha2::{Digest, Sha256};

const FILE: &str = "bip340-test-vectors.json";

struct Row {
    index: String,
    secret_key: Option<[u8; 32]>,
    public_key: [u8; 32],
    aux_rand: Option<[u8; 32]>,
    message: Vec<u8>,
    signature: [u8; 64],
    valid: bool,
}

fn field<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("field {name:?} is missing in {v}"))
}

fn fixed<const N: usize>(hex_str: &str, what: &str) -> [u8; N] {
    let mut out = [0u8; N];
    hex::decode_to_slice(hex_str, &mut out).unwrap_or_else(|e| panic!("{what}: {e}"));
    out
}

fn optional<const N: usize>(hex_str: &str, what: &str) -> Option<[u8; N]> {
    (!hex_str.is_empty()).then(|| fixed(hex_str, what))
}

fn rows() -> Vec<Row> {
    let file = common::load_json(FILE);
    let vectors = file["vectors"].as_array().expect("vectors array");
    vectors
        .iter()
        .map(|v| Row {
            index: field(v, "index").to_string(),
            secret_key: optional(field(v, "secret key"), "secret key"),
            public_key: fixed(field(v, "public key"), "public key"),
            aux_rand: optional(field(v, "aux_rand"), "aux_rand"),
            message: hex::decode(field(v, "message")).expect("message hex"),
            signature: fixed(field(v, "signature"), "signature"),
            valid: match field(v, "verification result") {
                "TRUE" => true,
                "FALSE" => false,
                other => panic!("verification result {other:?}"),
            },
        })
        .collect()
}

fn tagged_hash(tag: &str, parts: &[&[u8]]) -> [u8; 32] {
    let t = Sha256::digest(tag.as_bytes());
    let mut h = Sha256::new();
    h.update(t);
    h.update(t);
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// A BIP-340 `Sign` for messages of any length, written from the BIP with safe secp256k1
/// arithmetic, because secp256k1 0.29's safe API signs only 32-byte messages. It is checked
/// against libsecp256k1's signer on the 32-byte rows before it is trusted on the others.
fn sign_any(secret: &[u8; 32], message: &[u8], aux: &[u8; 32]) -> [u8; 64] {
    let d0 = SecretKey::from_slice(secret).expect("secret key");
    let (p, parity) = d0.x_only_public_key(SECP256K1);
    let d = if parity == Parity::Odd {
        d0.negate()
    } else {
        d0
    };
    let aux_hash = tagged_hash("BIP0340/aux", &[aux]);
    let mut t = d.secret_bytes();
    for (ti, ai) in t.iter_mut().zip(aux_hash) {
        *ti ^= ai;
    }
    let rand = tagged_hash("BIP0340/nonce", &[&t, &p.serialize(), message]);
    // The nonce hash is below n except with negligible probability; the vectors never hit it.
    let k0 = SecretKey::from_slice(&rand).expect("nonce below n");
    let (r, r_parity) = PublicKey::from_secret_key(SECP256K1, &k0).x_only_public_key();
    let k = if r_parity == Parity::Odd {
        k0.negate()
    } else {
        k0
    };
    let e = tagged_hash(
        "BIP0340/challenge",
        &[&r.serialize(), &p.serialize(), message],
    );
    let e = SecretKey::from_slice(&e).expect("challenge below n");
    let ed = e.mul_tweak(&Scalar::from(d)).expect("e·d");
    let s = k.add_tweak(&Scalar::from(ed)).expect("k + e·d");
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&r.serialize());
    sig[32..].copy_from_slice(&s.secret_bytes());
    sig
}

#[test]
fn bip340_every_row() {
    let rows = rows();
    let mut checked = 0;
    let mut any_length_rows = 0;
    let mut signed_rows = 0;
    for row in &rows {
        let any = verify_schnorr_any(&row.public_key, &row.message, &row.signature);
        assert_eq!(
            any.is_ok(),
            row.valid,
            "row {}: verify_schnorr_any gave {any:?}",
            row.index
        );
        if let Ok(msg32) = <[u8; 32]>::try_from(row.message.as_slice()) {
            let lib = verify_schnorr(&row.public_key, &msg32, &row.signature);
            assert_eq!(
                lib.is_ok(),
                row.valid,
                "row {}: verify_schnorr gave {lib:?}",
                row.index
            );
            // Both verifiers also agree on why a row fails.
            assert_eq!(lib, any, "row {}: the two verifiers disagree", row.index);
        } else {
            any_length_rows += 1;
        }

        if let Some(sk) = row.secret_key {
            let keypair = Keypair::from_seckey_slice(SECP256K1, &sk).expect("keypair");
            assert_eq!(
                keypair.x_only_public_key().0.serialize(),
                row.public_key,
                "row {}: public key of the secret key",
                row.index
            );
            let aux = row.aux_rand.expect("a row with a secret key has aux_rand");
            let ours = sign_any(&sk, &row.message, &aux);
            assert_eq!(ours, row.signature, "row {}: sign_any", row.index);
            if let Ok(msg32) = <[u8; 32]>::try_from(row.message.as_slice()) {
                let lib = SECP256K1.sign_schnorr_with_aux_rand(
                    &Message::from_digest(msg32),
                    &keypair,
                    &aux,
                );
                assert_eq!(
                    lib.serialize(),
                    row.signature,
                    "row {}: libsecp256k1 sign",
                    row.index
                );
            }
            signed_rows += 1;
        }
        checked += 1;
    }
    assert!(
        any_length_rows > 0,
        "no row with a non-32-byte message was found"
    );
    assert!(signed_rows > 0, "no row with a secret key was found");
    println!(
        "vectors: {FILE}: {any_length_rows} rows with non-32-byte messages, {signed_rows} signed"
    );
    common::report(FILE, checked);
}

#[test]
fn bip340_any_length_rejects_bit_flips_and_other_lengths_on_valid_rows() {
    let mut checked = 0;
    for row in rows().iter().filter(|r| r.valid) {
        // One bit in every byte of r and s, a different bit position from byte to byte.
        for byte in 0..64 {
            let bit = byte % 8;
            let mut sig = row.signature;
            sig[byte] ^= 1 << bit;
            assert!(
                verify_schnorr_any(&row.public_key, &row.message, &sig).is_err(),
                "row {}: flipped bit {bit} of signature byte {byte} verified",
                row.index
            );
        }
        let mut longer = row.message.clone();
        longer.push(0);
        assert!(verify_schnorr_any(&row.public_key, &longer, &row.signature).is_err());
        if !row.message.is_empty() {
            let shorter = &row.message[..row.message.len() - 1];
            assert!(verify_schnorr_any(&row.public_key, shorter, &row.signature).is_err());
        }
        checked += 1;
    }
    common::report(FILE, checked);
}

/// The rows' public keys include one off the curve and one at or above the field size: the batch
/// curve check (`on_curve`, used when decoding a 4919) must judge each, with either prefix, as
/// libsecp256k1 does, alone and hidden in a batch of the rows' valid keys.
#[test]
fn bip340_public_keys_through_the_batch_curve_check() {
    use mintwatch_protocol::on_curve::all_on_curve;
    let compressed: Vec<[u8; 33]> = rows()
        .iter()
        .flat_map(|row| {
            [0x02u8, 0x03].map(|prefix| {
                let mut point = [prefix; 33];
                point[1..].copy_from_slice(&row.public_key);
                point
            })
        })
        .collect();
    let valid: Vec<[u8; 33]> = compressed
        .iter()
        .copied()
        .filter(|p| PublicKey::from_slice(p).is_ok())
        .collect();
    let mut refused = 0;
    for point in &compressed {
        let expected = PublicKey::from_slice(point).is_ok();
        assert_eq!(all_on_curve([point]), expected, "{}", hex::encode(point));
        let mut batch = valid.clone();
        batch.insert(batch.len() / 2, *point);
        assert_eq!(
            all_on_curve(&batch),
            expected,
            "{} in a batch",
            hex::encode(point)
        );
        refused += usize::from(!expected);
    }
    assert!(
        refused >= 4,
        "the file's off-curve and out-of-range keys were not exercised"
    );
    common::report(FILE, compressed.len());
}
