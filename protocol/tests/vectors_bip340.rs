//! Every row of the BIP-340 test vectors through the signature check the event path uses
//! (`verify_schnorr`, libsecp256k1), plus signing where the row gives a secret key. Rows whose
//! message is not 32 bytes (BIP-340 as revised in 2022) go through an any-length verifier kept
//! here, in the tests, since no event needs it.

mod common;

use mintwatch_protocol::event::{verify_schnorr, VerifyError};
use secp256k1::constants::{CURVE_ORDER, FIELD_SIZE};
use secp256k1::{
    Keypair, Message, Parity, PublicKey, Scalar, SecretKey, XOnlyPublicKey, SECP256K1,
};
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

/// Reduces a 256-bit big-endian integer modulo the curve order `n`. One subtraction suffices
/// because `2^256 < 2n`.
fn reduce_mod_n(mut x: [u8; 32]) -> [u8; 32] {
    if x < CURVE_ORDER {
        return x;
    }
    let mut borrow = 0u16;
    for i in (0..32).rev() {
        let sub = u16::from(CURVE_ORDER[i]) + borrow;
        let cur = u16::from(x[i]);
        if cur >= sub {
            x[i] = (cur - sub) as u8;
            borrow = 0;
        } else {
            x[i] = (cur + 256 - sub) as u8;
            borrow = 1;
        }
    }
    x
}

/// Verifies a BIP-340 signature over a message of any length (BIP-340 as revised in 2022 allows
/// variable-length messages; secp256k1 0.29's safe API only takes 32 bytes, and its FFI would
/// need `unsafe`). Built from safe point arithmetic, following the BIP's `Verify` step by step:
/// `P = lift_x(pk)`, `r < p`, `s < n`, `e = H_challenge(r || P || m) mod n`, `R = sG - eP`,
/// and `R` must be finite with even y and `x(R) = r`. It lives in the tests because only the vectors'
/// rows with messages of other lengths need it; events are checked with `verify_schnorr`.
fn verify_schnorr_any(
    pubkey: &[u8; 32],
    message: &[u8],
    sig: &[u8; 64],
) -> Result<(), VerifyError> {
    // lift_x: from_slice refuses x >= p and x that is not on the curve.
    let x_only = XOnlyPublicKey::from_slice(pubkey).map_err(|_| VerifyError::BadPubkey)?;
    let p_point = PublicKey::from_x_only_public_key(x_only, Parity::Even);
    let mut r = [0u8; 32];
    r.copy_from_slice(&sig[..32]);
    let mut s = [0u8; 32];
    s.copy_from_slice(&sig[32..]);
    if r >= FIELD_SIZE || s >= CURVE_ORDER {
        return Err(VerifyError::BadSignature);
    }
    let e = reduce_mod_n(tagged_hash("BIP0340/challenge", &[&r, pubkey, message]));
    // Zero scalars are not secret keys / tweaks in libsecp, so the point at infinity is
    // handled by hand: `None` stands for it.
    let s_g = SecretKey::from_slice(&s)
        .ok()
        .map(|sk| PublicKey::from_secret_key(SECP256K1, &sk));
    let minus_e_p = if e == [0u8; 32] {
        None
    } else {
        let e_scalar = Scalar::from_be_bytes(e).map_err(|_| VerifyError::BadSignature)?;
        let e_p = p_point
            .mul_tweak(SECP256K1, &e_scalar)
            .map_err(|_| VerifyError::BadSignature)?;
        Some(e_p.negate(SECP256K1))
    };
    let big_r = match (s_g, minus_e_p) {
        (Some(a), Some(b)) => a.combine(&b).map_err(|_| VerifyError::BadSignature)?,
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => return Err(VerifyError::BadSignature),
    };
    let (r_x, parity) = big_r.x_only_public_key();
    if parity != Parity::Even || r_x.serialize() != r {
        return Err(VerifyError::BadSignature);
    }
    Ok(())
}

#[test]
fn any_length_verifier_refuses_edge_scalars_as_libsecp_does() {
    let keypair = Keypair::new(SECP256K1, &mut secp256k1::rand::thread_rng());
    let msg = [7u8; 32];
    let sig = SECP256K1
        .sign_schnorr(&Message::from_digest(msg), &keypair)
        .serialize();
    let pk = keypair.x_only_public_key().0.serialize();
    assert_eq!(verify_schnorr(&pk, &msg, &sig), Ok(()));
    assert_eq!(verify_schnorr_any(&pk, &msg, &sig), Ok(()));
    // s = 0, s = n, r = p: refused by both, without panicking.
    let mut zero_s = sig;
    zero_s[32..].fill(0);
    let mut n_s = sig;
    n_s[32..].copy_from_slice(&CURVE_ORDER);
    let mut p_r = sig;
    p_r[..32].copy_from_slice(&FIELD_SIZE);
    for bad in [zero_s, n_s, p_r, [0u8; 64], [0xff; 64]] {
        assert_eq!(
            verify_schnorr_any(&pk, &msg, &bad),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify_schnorr(&pk, &msg, &bad),
            Err(VerifyError::BadSignature)
        );
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    #[test]
    fn any_length_verifier_never_panics_and_agrees_with_libsecp(
        pk in proptest::prelude::any::<[u8; 32]>(),
        msg in proptest::prelude::any::<[u8; 32]>(),
        sig in proptest::collection::vec(proptest::prelude::any::<u8>(), 64),
    ) {
        let mut s = [0u8; 64];
        s.copy_from_slice(&sig);
        proptest::prop_assert_eq!(
            verify_schnorr_any(&pk, &msg, &s),
            verify_schnorr(&pk, &msg, &s)
        );
    }
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
