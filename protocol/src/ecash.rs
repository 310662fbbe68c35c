//! Cashu crypto: `hash_to_curve` (NUT-00), the blind Diffie-Hellman key exchange (BDHKE) a mint
//! and a wallet run, keyset ids (NUT-02) and DLEQ proofs (NUT-12).
//!
//! The arithmetic is the `cashu` crate's (`cashu::dhke`, `cashu::nuts::nut12`), which runs on the
//! same secp256k1 0.29 as the rest of mintwatch; this module speaks mintwatch's parsed types
//! ([`Point`], [`KeysetId`], [`Unit`]) and turns every failure into a typed error, so no input,
//! however hostile, can panic. Secret keys are `secp256k1::SecretKey` (never zero, below `n`).
//!
//! Naming follows the NUTs: `k`/`a` a mint's private key for one amount, `K`/`A = aG` its public
//! key, `Y = hash_to_curve(secret)`, `B_ = Y + rG` the blinded message, `C_ = kB_` the blind
//! signature, `C = C_ - rK` the unblinded signature.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use secp256k1::{Scalar, SecretKey, SECP256K1};
use sha2::{Digest, Sha256};

use crate::types::{KeysetId, Point, Unit};

/// The NUT-00 domain separator prefixed to every `hash_to_curve` message.
pub const DOMAIN_SEPARATOR: &[u8] = b"Secp256k1_HashToCurve_Cashu_";

/// Why a BDHKE step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EcashError {
    /// `hash_to_curve` tried every counter without finding a curve point (probability about
    /// `2^-65536`; reported rather than looped forever).
    #[error("no curve point found for the message")]
    NoValidPoint,
    /// A point sum or product would be the point at infinity, which has no compressed form.
    #[error("the result is the point at infinity")]
    PointAtInfinity,
}

impl From<cashu::dhke::Error> for EcashError {
    fn from(e: cashu::dhke::Error) -> Self {
        match e {
            cashu::dhke::Error::NoValidPoint => EcashError::NoValidPoint,
            // On points that parsed and non-zero scalars, secp256k1 only fails when a result
            // is the point at infinity.
            _ => EcashError::PointAtInfinity,
        }
    }
}

/// Why a DLEQ proof was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DleqError {
    /// `e`, `s` or `r` is not a scalar in `1..n`.
    #[error("{0} is not a scalar in 1..n")]
    BadScalar(&'static str),
    /// The secret does not hash to a curve point, or a derived point is at infinity.
    #[error("the proof's points cannot be derived: {0}")]
    Points(EcashError),
    /// The proof is well-formed but does not prove `log_G(A) = log_B_(C_)`.
    #[error("the DLEQ proof does not verify")]
    Invalid,
}

impl From<cashu::nuts::nut12::Error> for DleqError {
    fn from(e: cashu::nuts::nut12::Error) -> Self {
        use cashu::nuts::nut12::Error as E;
        match e {
            E::DHKE(inner) => DleqError::Points(inner.into()),
            E::Secp256k1(_) => DleqError::Points(EcashError::PointAtInfinity),
            // Missing, incomplete or wrong proofs, and nonce derivation (which cannot fail for a
            // valid key in practice): all mean the proof does not stand.
            _ => DleqError::Invalid,
        }
    }
}

/// A NUT-12 DLEQ proof of a blind signature: the challenge `e` and response `s`, 32 bytes
/// big-endian each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dleq {
    /// The challenge `e = hash_e(R1, R2, A, C_)`.
    pub e: [u8; 32],
    /// The response `s = r + e·a mod n`.
    pub s: [u8; 32],
}

fn to_cashu(p: &Point) -> cashu::PublicKey {
    cashu::PublicKey::from(p.to_public_key())
}

fn from_cashu(p: &cashu::PublicKey) -> Point {
    Point::from_public_key(p)
}

fn scalar(field: &'static str, bytes: &[u8; 32]) -> Result<cashu::SecretKey, DleqError> {
    cashu::SecretKey::from_slice(bytes).map_err(|_| DleqError::BadScalar(field))
}

/// NUT-00 `hash_to_curve`: `Y = 02 || SHA256(SHA256(DOMAIN_SEPARATOR || message) || counter)`
/// for the first little-endian `u32` counter that gives a valid x. In the protocol the message
/// is the UTF-8 bytes of a proof's `secret` string.
pub fn hash_to_curve(message: &[u8]) -> Result<Point, EcashError> {
    let y = cashu::dhke::hash_to_curve(message)?;
    Ok(from_cashu(&y))
}

/// The wallet's blinding: `B_ = Y + rG` with `Y = hash_to_curve(secret)`.
pub fn blind(secret: &[u8], r: &SecretKey) -> Result<Point, EcashError> {
    let (b_, _) = cashu::dhke::blind_message(secret, Some(cashu::SecretKey::from(*r)))?;
    Ok(from_cashu(&b_))
}

/// The mint's blind signature: `C_ = kB_`.
pub fn sign_blinded(k: &SecretKey, b_: &Point) -> Result<Point, EcashError> {
    let c_ = cashu::dhke::sign_message(&cashu::SecretKey::from(*k), &to_cashu(b_))?;
    Ok(from_cashu(&c_))
}

/// The wallet's unblinding: `C = C_ - rK`, with `K` the mint's public key for the amount.
pub fn unblind(c_: &Point, r: &SecretKey, mint_pubkey: &Point) -> Result<Point, EcashError> {
    let c = cashu::dhke::unblind_message(
        &to_cashu(c_),
        &cashu::SecretKey::from(*r),
        &to_cashu(mint_pubkey),
    )?;
    Ok(from_cashu(&c))
}

/// The mint's check of a redeemed proof: `C == k·hash_to_curve(secret)`.
pub fn verify_unblinded(k: &SecretKey, secret: &[u8], c: &Point) -> bool {
    cashu::dhke::verify_message(&cashu::SecretKey::from(*k), to_cashu(c), secret).is_ok()
}

/// NUT-02 keyset id, version 1 (deprecated, still common): `00` followed by the first 7 bytes
/// of `SHA256(concat(compressed keys sorted by amount ascending))`.
pub fn keyset_id_v1(keys: &BTreeMap<u64, Point>) -> KeysetId {
    // A BTreeMap<u64, _> already iterates in numeric amount order.
    let mut hasher = Sha256::new();
    for point in keys.values() {
        hasher.update(point.as_bytes());
    }
    let hash = hasher.finalize();
    let mut id = [0u8; 8];
    id[1..].copy_from_slice(&hash[..7]);
    KeysetId::V1(id)
}

/// NUT-02 keyset id, version 2: `01` followed by `SHA256` of the UTF-8 string
/// `amount:keyhex,amount:keyhex,...|unit:<unit>`, with `|input_fee_ppk:<n>` appended when the
/// fee is not zero and `|final_expiry:<t>` when an expiry is set. As in the `cashu` crate, an
/// expiry of `0` counts as unset.
pub fn keyset_id_v2(
    keys: &BTreeMap<u64, Point>,
    unit: &Unit,
    input_fee_ppk: u64,
    final_expiry: Option<u64>,
) -> KeysetId {
    let mut preimage = String::with_capacity(keys.len() * 80 + 64);
    for (i, (amount, point)) in keys.iter().enumerate() {
        if i > 0 {
            preimage.push(',');
        }
        // Writing to a String cannot fail.
        let _ = write!(preimage, "{amount}:{}", point.to_hex());
    }
    let _ = write!(preimage, "|unit:{}", unit.as_str());
    if input_fee_ppk > 0 {
        let _ = write!(preimage, "|input_fee_ppk:{input_fee_ppk}");
    }
    if let Some(expiry) = final_expiry.filter(|t| *t > 0) {
        let _ = write!(preimage, "|final_expiry:{expiry}");
    }
    let hash = Sha256::digest(preimage.as_bytes());
    let mut id = [0u8; 33];
    id[0] = 0x01;
    id[1..].copy_from_slice(&hash);
    KeysetId::V2(id)
}

/// NUT-12 `hash_e`: SHA-256 of the concatenated lowercase hex of each point's 65-byte
/// uncompressed SEC1 form (the hex text is hashed, not the bytes).
pub fn hash_e(points: &[Point]) -> [u8; 32] {
    cashu::dhke::hash_e(points.iter().map(to_cashu))
}

/// The keyset id is not part of a DLEQ proof, but `cashu`'s `BlindSignature` carries one.
fn placeholder_keyset_id() -> cashu::Id {
    cashu::Id::v1_from_keys(&cashu::Keys::new(BTreeMap::new()))
}

/// Alice's (or an auditor's) check of a blind signature's DLEQ proof: with
/// `R1 = sG - eA` and `R2 = sB_ - eC_`, requires `e == hash_e(R1, R2, A, C_)`. This proves
/// that `C_` was signed with the private key of the published `A`.
pub fn verify_blind_signature_dleq(
    a: &Point,
    b_: &Point,
    c_: &Point,
    e: &[u8; 32],
    s: &[u8; 32],
) -> Result<(), DleqError> {
    let signature = cashu::BlindSignature {
        amount: cashu::Amount::from(1),
        keyset_id: placeholder_keyset_id(),
        c: to_cashu(c_),
        dleq: Some(cashu::BlindSignatureDleq {
            e: scalar("e", e)?,
            s: scalar("s", s)?,
        }),
    };
    signature.verify_dleq(to_cashu(a), to_cashu(b_))?;
    Ok(())
}

/// Carol's check of a proof she received with its DLEQ (`e`, `s` and the blinding factor
/// `r`): rebuilds `Y = hash_to_curve(secret)`, `C_ = C + rA`, `B_ = Y + rG`, then checks as
/// [`verify_blind_signature_dleq`]. `secret` is the UTF-8 bytes of the proof's `secret`.
pub fn verify_proof_dleq(
    a: &Point,
    secret: &[u8],
    c: &Point,
    e: &[u8; 32],
    s: &[u8; 32],
    r: &[u8; 32],
) -> Result<(), DleqError> {
    let e_checked = scalar("e", e)?;
    let s_checked = scalar("s", s)?;
    let r = SecretKey::from_slice(r).map_err(|_| DleqError::BadScalar("r"))?;
    let b_ = blind(secret, &r).map_err(DleqError::Points)?;
    let r_a = a
        .to_public_key()
        .mul_tweak(SECP256K1, &Scalar::from(r))
        .map_err(|_| DleqError::Points(EcashError::PointAtInfinity))?;
    let c_ = c
        .to_public_key()
        .combine(&r_a)
        .map_err(|_| DleqError::Points(EcashError::PointAtInfinity))?;
    let signature = cashu::BlindSignature {
        amount: cashu::Amount::from(1),
        keyset_id: placeholder_keyset_id(),
        c: cashu::PublicKey::from(c_),
        dleq: Some(cashu::BlindSignatureDleq {
            e: e_checked,
            s: s_checked,
        }),
    };
    signature.verify_dleq(to_cashu(a), to_cashu(&b_))?;
    Ok(())
}

/// The mint's DLEQ proof for the blind signature `C_ = kB_`, with NUT-12's deterministic nonce
/// (`r = HMAC-SHA256(k, "Cashu_DLEQ_R_v1" || A || B_ || C_ || ctr)`), so the same inputs always
/// give the same proof. A proof made for a `C_` that is not `kB_` will not verify.
pub fn create_dleq(k: &SecretKey, b_: &Point, c_: &Point) -> Result<Dleq, DleqError> {
    let signature = cashu::BlindSignature::new(
        cashu::Amount::from(1),
        to_cashu(c_),
        placeholder_keyset_id(),
        &to_cashu(b_),
        &cashu::SecretKey::from(*k),
    )?;
    let dleq = signature.dleq.ok_or(DleqError::Invalid)?;
    Ok(Dleq {
        e: dleq.e.to_secret_bytes(),
        s: dleq.s.to_secret_bytes(),
    })
}

/// The mint's signature and its DLEQ proof in one step: `C_ = kB_` and [`create_dleq`].
pub fn sign_blinded_with_dleq(k: &SecretKey, b_: &Point) -> Result<(Point, Dleq), DleqError> {
    let c_ = sign_blinded(k, b_).map_err(DleqError::Points)?;
    let dleq = create_dleq(k, b_, &c_)?;
    Ok((c_, dleq))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(byte: u8) -> SecretKey {
        SecretKey::from_slice(&[byte; 32]).expect("a repeated non-zero byte below n is a key")
    }

    fn pubkey(k: &SecretKey) -> Point {
        Point::from_public_key(&k.public_key(SECP256K1))
    }

    #[test]
    fn bdhke_round_trip_verifies_and_wrong_key_fails() {
        let (k, r) = (key(7), key(9));
        let secret = b"407915bc212be61a77e3e6d2aeb4c727980bda51cd06a6afc29e2861768a7837";
        let b_ = blind(secret, &r).expect("blind");
        let c_ = sign_blinded(&k, &b_).expect("sign");
        let c = unblind(&c_, &r, &pubkey(&k)).expect("unblind");
        assert!(verify_unblinded(&k, secret, &c));
        assert!(!verify_unblinded(&key(8), secret, &c));
        assert!(!verify_unblinded(&k, b"another secret", &c));
    }

    #[test]
    fn unblinding_to_infinity_is_an_error_not_a_panic() {
        // C_ = rK makes C = C_ - rK the point at infinity.
        let (k, r) = (key(3), key(5));
        let r_k = sign_blinded(&r, &pubkey(&k)).expect("rK");
        assert_eq!(
            unblind(&r_k, &r, &pubkey(&k)),
            Err(EcashError::PointAtInfinity)
        );
    }

    #[test]
    fn dleq_created_verifies_and_rejects_other_signatures() {
        let k = key(11);
        let b_ = blind(b"secret", &key(12)).expect("blind");
        let (c_, dleq) = sign_blinded_with_dleq(&k, &b_).expect("sign");
        let a = pubkey(&k);
        assert_eq!(
            verify_blind_signature_dleq(&a, &b_, &c_, &dleq.e, &dleq.s),
            Ok(())
        );
        // Same proof, other mint key.
        assert_eq!(
            verify_blind_signature_dleq(&pubkey(&key(13)), &b_, &c_, &dleq.e, &dleq.s),
            Err(DleqError::Invalid)
        );
        // A proof "for" a C_ that k did not make.
        let forged = sign_blinded(&key(14), &b_).expect("sign");
        let bad = create_dleq(&k, &b_, &forged).expect("create");
        assert_eq!(
            verify_blind_signature_dleq(&a, &b_, &forged, &bad.e, &bad.s),
            Err(DleqError::Invalid)
        );
        assert_eq!(
            verify_blind_signature_dleq(&a, &b_, &c_, &[0u8; 32], &dleq.s),
            Err(DleqError::BadScalar("e"))
        );
        assert_eq!(
            verify_blind_signature_dleq(&a, &b_, &c_, &dleq.e, &[0xff; 32]),
            Err(DleqError::BadScalar("s"))
        );
    }

    #[test]
    fn keyset_ids_agree_with_the_cashu_crate() {
        let keys: BTreeMap<u64, Point> = (0..20u32)
            .map(|i| (1u64 << i, pubkey(&key(i as u8 + 1))))
            .collect();
        let cashu_keys = cashu::Keys::new(
            keys.iter()
                .map(|(a, p)| (cashu::Amount::from(*a), to_cashu(p)))
                .collect(),
        );
        let v1 = cashu::Id::v1_from_keys(&cashu_keys);
        assert_eq!(keyset_id_v1(&keys).as_bytes(), v1.to_bytes().as_slice());
        let unit = Unit::parse("usd").expect("unit");
        let cashu_unit = cashu::CurrencyUnit::Usd;
        for (fee, expiry) in [
            (0, None),
            (0, Some(0)),
            (100, Some(1_900_000_000)),
            (7, None),
        ] {
            let ours = keyset_id_v2(&keys, &unit, fee, expiry);
            let theirs = cashu::Id::v2_from_data(&cashu_keys, &cashu_unit, fee, expiry);
            assert_eq!(ours.as_bytes(), theirs.to_bytes().as_slice());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn hash_to_curve_never_panics_and_is_deterministic(msg in proptest::collection::vec(any::<u8>(), 0..200)) {
            let a = hash_to_curve(&msg).expect("a point is found for every practical message");
            prop_assert_eq!(a, hash_to_curve(&msg).expect("again"));
            prop_assert_eq!(a.as_bytes()[0], 0x02);
        }

        #[test]
        fn dleq_verifiers_never_panic(
            e in any::<[u8; 32]>(), s in any::<[u8; 32]>(), r in any::<[u8; 32]>(),
            secret in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let a = pubkey(&key(2));
            let p = hash_to_curve(&secret).expect("point");
            prop_assert!(verify_blind_signature_dleq(&a, &p, &p, &e, &s).is_err());
            prop_assert!(verify_proof_dleq(&a, &secret, &p, &e, &s, &r).is_err());
        }
    }
}
