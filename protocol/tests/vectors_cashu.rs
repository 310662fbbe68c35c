//! The Cashu crypto of `mintwatch_protocol::ecash` against the NUT-00, NUT-02 and NUT-12 vectors
//! in `tests/vectors/`, read at run time.

mod common;

use std::collections::BTreeMap;

use mintwatch_protocol::ecash::{
    blind, create_dleq, hash_e, hash_to_curve, keyset_id_v1, keyset_id_v2, sign_blinded, unblind,
    verify_blind_signature_dleq, verify_proof_dleq, verify_unblinded, DleqError, DOMAIN_SEPARATOR,
};
use mintwatch_protocol::{KeysetId, Point, Unit};
use secp256k1::{SecretKey, SECP256K1};
use serde_json::Value;

fn s<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("field {field} is missing or not a string in {v}"))
}

fn point(v: &Value, field: &str) -> Point {
    Point::parse(s(v, field)).unwrap_or_else(|e| panic!("{field}: {e}"))
}

fn bytes32(v: &Value, field: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s(v, field), &mut out).unwrap_or_else(|e| panic!("{field}: {e}"));
    out
}

fn secret_key(v: &Value, field: &str) -> SecretKey {
    SecretKey::from_slice(&bytes32(v, field)).unwrap_or_else(|e| panic!("{field}: {e}"))
}

fn public(k: &SecretKey) -> Point {
    Point::from_public_key(&k.public_key(SECP256K1))
}

fn entries<'a>(file: &'a Value, section: &str) -> &'a [Value] {
    file[section]
        .as_array()
        .unwrap_or_else(|| panic!("section {section} is missing or not an array"))
}

/// A different valid point, to swap in for negative cases.
fn other_point(p: &Point) -> Point {
    hash_to_curve(p.as_bytes()).expect("hash_to_curve of 33 bytes")
}

fn flip(mut b: [u8; 32]) -> [u8; 32] {
    b[31] ^= 1;
    b
}

#[test]
fn nut00_hash_to_curve_blinding_and_signing() {
    const FILE: &str = "nut00-hash-to-curve.json";
    let file = common::load_json(FILE);
    let mut checked = 0;

    assert_eq!(
        s(&file, "domain_separator").as_bytes(),
        DOMAIN_SEPARATOR,
        "domain separator"
    );

    for v in entries(&file, "hash_to_curve") {
        let msg = hex::decode(s(v, "message_hex")).expect("message hex");
        assert_eq!(
            hash_to_curve(&msg).expect("hash_to_curve"),
            point(v, "point"),
            "hash_to_curve of {msg:02x?}"
        );
        checked += 1;
    }

    let signatures = entries(&file, "blinded_signatures");
    for v in entries(&file, "blinded_messages") {
        let x = hex::decode(s(v, "x_hex")).expect("x hex");
        let r = secret_key(v, "r");
        let b_ = blind(&x, &r).expect("blind");
        assert_eq!(b_, point(v, "B_"), "B_ for x {}", s(v, "x_hex"));
        // Carry each blinded message through every signing key of the file: the unblinded
        // signature must be kY, which the mint's check accepts and another key does not.
        for sig in signatures {
            let k = secret_key(sig, "k");
            let c_ = sign_blinded(&k, &b_).expect("sign");
            let c = unblind(&c_, &r, &public(&k)).expect("unblind");
            let y = hash_to_curve(&x).expect("Y");
            assert_eq!(c, sign_blinded(&k, &y).expect("kY"));
            assert!(verify_unblinded(&k, &x, &c));
            assert!(!verify_unblinded(&r, &x, &c));
        }
        checked += 1;
    }

    for v in signatures {
        let k = secret_key(v, "k");
        assert_eq!(
            sign_blinded(&k, &point(v, "B_")).expect("sign"),
            point(v, "C_"),
            "C_ for k {}",
            s(v, "k")
        );
        checked += 1;
    }

    common::report(FILE, checked);
}

fn keyset(v: &Value) -> BTreeMap<u64, Point> {
    let keys = v["keys"].as_object().expect("keys object");
    assert!(!keys.is_empty(), "empty keyset");
    keys.iter()
        .map(|(amount, key)| {
            let amount: u64 = amount.parse().expect("amount is a u64");
            let key = Point::parse(key.as_str().expect("key string")).expect("key point");
            (amount, key)
        })
        .collect()
}

#[test]
fn nut02_keyset_ids_v1_and_v2() {
    const FILE: &str = "nut02-keyset-id.json";
    let file = common::load_json(FILE);
    let mut checked = 0;

    for v in entries(&file, "v1") {
        let keys = keyset(v);
        let want = KeysetId::parse(s(v, "id")).expect("id");
        assert!(matches!(want, KeysetId::V1(_)));
        assert_eq!(keyset_id_v1(&keys), want, "v1 id {}", s(v, "id"));
        checked += 1;
    }

    for v in entries(&file, "v2") {
        let keys = keyset(v);
        let want = KeysetId::parse(s(v, "id")).expect("id");
        assert!(matches!(want, KeysetId::V2(_)));
        let unit = Unit::parse(s(v, "unit")).expect("unit");
        let fee = v["input_fee_ppk"].as_u64().unwrap_or(0);
        let expiry = v["final_expiry"].as_u64();
        let got = keyset_id_v2(&keys, &unit, fee, expiry);
        assert_eq!(got, want, "v2 id {}", s(v, "id"));
        // Every input is bound: changing any of them changes the id.
        assert_ne!(
            keyset_id_v2(&keys, &Unit::parse("usd").expect("unit"), fee, expiry),
            want
        );
        assert_ne!(keyset_id_v2(&keys, &unit, fee + 1, expiry), want);
        assert_ne!(
            keyset_id_v2(&keys, &unit, fee, Some(expiry.unwrap_or(0) + 1)),
            want
        );
        let mut fewer = keys.clone();
        fewer.pop_last();
        assert_ne!(keyset_id_v2(&fewer, &unit, fee, expiry), want);
        checked += 1;
    }

    common::report(FILE, checked);
}

#[test]
fn nut12_dleq_all_sections() {
    const FILE: &str = "nut12-dleq.json";
    let file = common::load_json(FILE);
    let mut checked = 0;

    // hash_e over R1, R2, K, C_ in the file's order.
    let v = &file["hash_e"];
    let points: Vec<Point> = ["R1", "R2", "K", "C_"]
        .iter()
        .map(|f| point(v, f))
        .collect();
    assert_eq!(hash_e(&points), bytes32(v, "hash"), "hash_e");
    let mut reordered = points.clone();
    reordered.swap(2, 3);
    assert_ne!(hash_e(&reordered), bytes32(v, "hash"));
    checked += 1;

    // The deterministic nonce: same e and s as the vector, and the proof verifies.
    let v = &file["deterministic_nonce"];
    let a_key = secret_key(v, "a");
    assert_eq!(public(&a_key), point(v, "A"), "A = aG");
    let (b_, c_) = (point(v, "B_"), point(v, "C_"));
    let dleq = create_dleq(&a_key, &b_, &c_).expect("create_dleq");
    assert_eq!(dleq.e, bytes32(v, "e"), "deterministic e");
    assert_eq!(dleq.s, bytes32(v, "s"), "deterministic s");
    assert_eq!(
        verify_blind_signature_dleq(&point(v, "A"), &b_, &c_, &dleq.e, &dleq.s),
        Ok(())
    );
    checked += 1;

    // Alice's check of a blind signature, then every field tampered with in turn.
    let v = &file["blind_signature_dleq_valid"];
    let sig = &v["blind_signature"];
    let (a, b_, c_) = (point(v, "A"), point(v, "B_"), point(sig, "C_"));
    let (e, s_) = (bytes32(&sig["dleq"], "e"), bytes32(&sig["dleq"], "s"));
    assert_eq!(verify_blind_signature_dleq(&a, &b_, &c_, &e, &s_), Ok(()));
    let negatives = [
        verify_blind_signature_dleq(&a, &b_, &c_, &flip(e), &s_),
        verify_blind_signature_dleq(&a, &b_, &c_, &e, &flip(s_)),
        verify_blind_signature_dleq(&other_point(&a), &b_, &c_, &e, &s_),
        verify_blind_signature_dleq(&a, &other_point(&b_), &c_, &e, &s_),
        verify_blind_signature_dleq(&a, &b_, &other_point(&c_), &e, &s_),
    ];
    for (i, result) in negatives.into_iter().enumerate() {
        assert_eq!(
            result,
            Err(DleqError::Invalid),
            "tampered blind signature #{i}"
        );
    }
    assert_eq!(
        verify_blind_signature_dleq(&a, &b_, &c_, &[0u8; 32], &s_),
        Err(DleqError::BadScalar("e"))
    );
    assert_eq!(
        verify_blind_signature_dleq(&a, &b_, &c_, &e, &[0xffu8; 32]),
        Err(DleqError::BadScalar("s"))
    );
    checked += 1;

    // Carol's check of a proof with its blinding factor, then every field tampered with.
    let v = &file["proof_dleq_valid"];
    let proof = &v["proof"];
    let a = point(v, "A");
    let secret = s(proof, "secret").as_bytes();
    let c = point(proof, "C");
    let dl = &proof["dleq"];
    let (e, s_, r) = (bytes32(dl, "e"), bytes32(dl, "s"), bytes32(dl, "r"));
    assert_eq!(verify_proof_dleq(&a, secret, &c, &e, &s_, &r), Ok(()));
    let mut other_secret = secret.to_vec();
    other_secret.push(b'0');
    let negatives = [
        verify_proof_dleq(&a, secret, &c, &flip(e), &s_, &r),
        verify_proof_dleq(&a, secret, &c, &e, &flip(s_), &r),
        verify_proof_dleq(&a, secret, &c, &e, &s_, &flip(r)),
        verify_proof_dleq(&other_point(&a), secret, &c, &e, &s_, &r),
        verify_proof_dleq(&a, secret, &other_point(&c), &e, &s_, &r),
        verify_proof_dleq(&a, &other_secret, &c, &e, &s_, &r),
    ];
    for (i, result) in negatives.into_iter().enumerate() {
        assert_eq!(result, Err(DleqError::Invalid), "tampered proof #{i}");
    }
    assert_eq!(
        verify_proof_dleq(&a, secret, &c, &e, &s_, &[0u8; 32]),
        Err(DleqError::BadScalar("r"))
    );
    checked += 1;

    // Any section the file gains later must be covered here too.
    let known = [
        "_source",
        "_nuts_commit",
        "_notes",
        "hash_e",
        "deterministic_nonce",
        "blind_signature_dleq_valid",
        "proof_dleq_valid",
    ];
    for key in file.as_object().expect("object").keys() {
        assert!(
            known.contains(&key.as_str()),
            "{FILE} has a section {key} this test does not check"
        );
    }

    common::report(FILE, checked);
}
