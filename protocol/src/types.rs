//! Values that parse: once one of these exists, it is valid, so the code past the edge trusts it.

use std::fmt;
use std::str::FromStr;

use secp256k1::{PublicKey, XOnlyPublicKey};

use crate::error::{ParseError, Reason};

fn decode_hex<const N: usize>(field: &str, s: &str) -> Result<[u8; N], ParseError> {
    if s.len() != 2 * N {
        return Err(ParseError::malformed(
            field,
            format!("expected {} hex characters, found {}", 2 * N, s.len()),
        ));
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).map_err(|e| ParseError::malformed(field, e.to_string()))?;
    Ok(out)
}

// Keys this thread has found on the curve, at most `KNOWN_ON_CURVE_MAX`. The same few mint keys
// come back in every announcement and review (a 38172's `d`, a 38000's target), and each check is
// a square root, about 4 µs: a cache hit is a hash lookup. Only keys found valid are kept, and
// the set is emptied when full, so the worst case is the uncached check.
thread_local! {
    static KNOWN_ON_CURVE: std::cell::RefCell<std::collections::HashSet<[u8; 32]>> =
        std::cell::RefCell::new(std::collections::HashSet::new());
}

/// How many keys each thread's on-curve cache holds (see `KNOWN_ON_CURVE`).
const KNOWN_ON_CURVE_MAX: usize = 4096;

/// Whether `x` is the x coordinate of a point on secp256k1 (libsecp256k1's check, cached).
fn x_only_on_curve(x: &[u8; 32]) -> bool {
    KNOWN_ON_CURVE.with(|known| {
        if known.borrow().contains(x) {
            return true;
        }
        let on_curve = XOnlyPublicKey::from_slice(x).is_ok();
        if on_curve {
            let mut known = known.borrow_mut();
            if known.len() >= KNOWN_ON_CURVE_MAX {
                known.clear();
            }
            known.insert(*x);
        }
        on_curve
    })
}

/// A mint's nostr key: the x-only (BIP-340) form of its NUT-06 `pubkey`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MintKey([u8; 32]);

impl MintKey {
    /// Parses 64-hex x-only or 66-hex compressed (whose x is taken). The key must be on the curve.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        match s.len() {
            64 => {
                let bytes = decode_hex::<32>("mint_key", s)?;
                Self::from_x_only_bytes(bytes)
            }
            66 => Ok(Point::parse(s)
                .map_err(|e| ParseError {
                    field: "mint_key".into(),
                    ..e
                })?
                .x_only()),
            n => Err(ParseError::malformed(
                "mint_key",
                format!("expected 64 (x-only) or 66 (compressed) hex characters, found {n}"),
            )),
        }
    }

    /// From 32 raw bytes, checking that they are the x coordinate of a curve point.
    pub fn from_x_only_bytes(bytes: [u8; 32]) -> Result<Self, ParseError> {
        if !x_only_on_curve(&bytes) {
            return Err(ParseError::new("mint_key", Reason::NotOnCurve));
        }
        Ok(Self(bytes))
    }

    /// The 32 bytes of the x coordinate.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase 64-hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl FromStr for MintKey {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for MintKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for MintKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MintKey({})", self.to_hex())
    }
}

/// A compressed secp256k1 point (33 bytes) known to be on the curve.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Point([u8; 33]);

/// A burnt secret's `Y = hash_to_curve(secret)`.
pub type Y = Point;

impl Point {
    /// Parses 66-hex compressed.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        Self::from_bytes(&decode_hex::<33>("point", s)?)
    }

    /// From 33 bytes, checking the prefix and that the point is on the curve.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ParseError> {
        let point = Self::from_bytes_curve_unchecked(bytes)?;
        PublicKey::from_slice(&point.0)
            .map_err(|_| ParseError::new("point", Reason::NotOnCurve))?;
        Ok(point)
    }

    /// Parses many 66-hex compressed points, each result as [`Point::parse`] would give it, but
    /// with the curve checked for the whole batch at once ([`crate::on_curve`]: about 8 field
    /// multiplications a point instead of a square root); only a batch with a bad point is
    /// checked again point by point, to say which.
    pub fn parse_many(hexes: &[&str]) -> Vec<Result<Self, ParseError>> {
        let unchecked: Vec<Result<Self, ParseError>> = hexes
            .iter()
            .map(|s| Self::parse_curve_unchecked(s))
            .collect();
        let all_good = unchecked.iter().all(Result::is_ok)
            && crate::on_curve::all_on_curve(unchecked.iter().flatten().map(|p| &p.0));
        if all_good {
            unchecked
        } else {
            hexes.iter().map(|s| Self::parse(s)).collect()
        }
    }

    /// From 66-hex, checking the length only. The caller must check the curve before the point
    /// leaves the crate (the 4919 decoder checks a whole batch at once, see [`crate::on_curve`]).
    pub(crate) fn parse_curve_unchecked(s: &str) -> Result<Self, ParseError> {
        Ok(Self(decode_hex::<33>("point", s)?))
    }

    /// From 33 bytes, checking the length only; see [`Point::parse_curve_unchecked`].
    pub(crate) fn from_bytes_curve_unchecked(bytes: &[u8]) -> Result<Self, ParseError> {
        let arr: [u8; 33] = bytes.try_into().map_err(|_| {
            ParseError::malformed("point", format!("expected 33 bytes, found {}", bytes.len()))
        })?;
        Ok(Self(arr))
    }

    /// From a secp256k1 public key.
    pub fn from_public_key(pk: &PublicKey) -> Self {
        Self(pk.serialize())
    }

    /// The secp256k1 public key.
    pub fn to_public_key(&self) -> PublicKey {
        #[allow(clippy::expect_used)]
        PublicKey::from_slice(&self.0).expect("a Point is checked to be on the curve when built")
    }

    /// The 33 bytes.
    pub fn as_bytes(&self) -> &[u8; 33] {
        &self.0
    }

    /// Lowercase 66-hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The x coordinate as a mint key.
    pub fn x_only(&self) -> MintKey {
        let mut x = [0u8; 32];
        x.copy_from_slice(&self.0[1..]);
        MintKey(x)
    }
}

impl FromStr for Point {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Point {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Point({})", self.to_hex())
    }
}

/// A positive amount below 2^63 (so it fits a Postgres `bigint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Amount(u64);

impl Amount {
    /// The largest amount accepted.
    pub const MAX: u64 = i64::MAX as u64;

    /// Accepts 1..=2^63-1.
    pub fn new(value: u64) -> Result<Self, ParseError> {
        if value == 0 || value > Self::MAX {
            return Err(ParseError::new(
                "amount",
                Reason::OutOfRange(format!("{value} is not in 1..2^63")),
            ));
        }
        Ok(Self(value))
    }

    /// From a signed value (CBOR and JSON integers may be negative).
    pub fn from_i128(value: i128) -> Result<Self, ParseError> {
        u64::try_from(value)
            .map_err(|_| {
                ParseError::new(
                    "amount",
                    Reason::OutOfRange(format!("{value} is not in 1..2^63")),
                )
            })
            .and_then(Self::new)
    }

    /// The value.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A currency unit (`sat`, `msat`, `usd`, ...): lowercase, 1..=32 characters of `[a-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Unit(String);

impl Unit {
    /// Parses and lowercases a unit.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let lower = s.trim().to_ascii_lowercase();
        if lower.is_empty() || lower.len() > 32 {
            return Err(ParseError::malformed(
                "unit",
                format!("length {} is not in 1..=32", lower.len()),
            ));
        }
        if !lower
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        {
            return Err(ParseError::malformed(
                "unit",
                "only a-z, 0-9, '_' and '-' are allowed",
            ));
        }
        Ok(Self(lower))
    }

    /// The unit as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Unit {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The number of key rotations of a mint: the epoch of the keyset that signed an entry.
/// Non-negative and below 2^63.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Epoch(u64);

impl Epoch {
    /// Accepts 0..2^63.
    pub fn new(value: u64) -> Result<Self, ParseError> {
        if value > i64::MAX as u64 {
            return Err(ParseError::new(
                "epoch",
                Reason::OutOfRange(format!("{value} is not below 2^63")),
            ));
        }
        Ok(Self(value))
    }

    /// From a signed value.
    pub fn from_i128(value: i128) -> Result<Self, ParseError> {
        u64::try_from(value)
            .map_err(|_| {
                ParseError::new(
                    "epoch",
                    Reason::OutOfRange(format!("{value} is negative or too large")),
                )
            })
            .and_then(Self::new)
    }

    /// The value.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A NUT-02 keyset id: v1 (`00` + 7 bytes, 16 hex) or v2 (`01` + 32 bytes, 66 hex).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeysetId {
    /// Version 1 (deprecated): `00` followed by 7 bytes.
    V1([u8; 8]),
    /// Version 2: `01` followed by 32 bytes.
    V2([u8; 33]),
}

impl KeysetId {
    /// Parses 16-hex starting `00` or 66-hex starting `01`.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let lower = s.to_ascii_lowercase();
        match (lower.len(), lower.get(..2)) {
            (16, Some("00")) => Ok(Self::V1(decode_hex::<8>("keyset_id", &lower)?)),
            (66, Some("01")) => Ok(Self::V2(decode_hex::<33>("keyset_id", &lower)?)),
            _ => Err(ParseError::malformed(
                "keyset_id",
                "expected 16 hex starting 00 (v1) or 66 hex starting 01 (v2)",
            )),
        }
    }

    /// The id's bytes, version byte included.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::V1(b) => b,
            Self::V2(b) => b,
        }
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.as_bytes())
    }
}

impl fmt::Display for KeysetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The bitcoin network a mint or federation says it runs on (NIP-87 `n` tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Network {
    /// `mainnet`, also spelled `bitcoin`.
    Mainnet,
    /// `testnet`.
    Testnet,
    /// `signet`.
    Signet,
    /// `regtest`.
    Regtest,
    /// Anything else.
    Unknown,
}

impl Network {
    /// Reads an `n` tag value; never fails (unknown values are [`Network::Unknown`]).
    pub fn from_tag(s: &str) -> Self {
        match s.trim().to_ascii_lowercase().as_str() {
            "mainnet" | "bitcoin" => Self::Mainnet,
            "testnet" | "testnet3" | "testnet4" => Self::Testnet,
            "signet" => Self::Signet,
            "regtest" => Self::Regtest,
            _ => Self::Unknown,
        }
    }

    /// The canonical name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mainnet => "mainnet",
            Self::Testnet => "testnet",
            Self::Signet => "signet",
            Self::Regtest => "regtest",
            Self::Unknown => "unknown",
        }
    }
}

/// A mint URL, http or https, with the host lowercased and trailing `/` removed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MintUrl(String);

impl MintUrl {
    /// Parses and normalises a URL; only http and https with a host are accepted.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let url =
            url::Url::parse(s.trim()).map_err(|e| ParseError::malformed("url", e.to_string()))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(ParseError::malformed(
                "url",
                format!("scheme {:?} is not http(s)", url.scheme()),
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(ParseError::malformed("url", "no host"));
        }
        // `url` already lowercases the scheme and host; strip trailing slashes from the path so
        // `https://Mint.Example/` and `https://mint.example` are one mint.
        let mut out = url.to_string();
        while out.ends_with('/') {
            out.pop();
        }
        Ok(Self(out))
    }

    /// The normalised URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for MintUrl {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for MintUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How strongly a mint's nostr key is bound to the mint (PROTOCOL.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdentityLevel {
    /// A 11467 signed by the mint key whose content `pubkey` has that x, or a 38172 whose `d`
    /// names its own signer.
    SelfSigned,
    /// Only 38172 events by others name this mint.
    Operator,
    /// A 11467 whose content `pubkey` differs from its signer (evidence).
    Mismatch,
    /// None of the above.
    Unbound,
}

impl IdentityLevel {
    /// Every level.
    pub const ALL: [IdentityLevel; 4] = [
        Self::SelfSigned,
        Self::Operator,
        Self::Mismatch,
        Self::Unbound,
    ];

    /// The name used in the API and in assertions.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SelfSigned => "self-signed",
            Self::Operator => "operator",
            Self::Mismatch => "mismatch",
            Self::Unbound => "unbound",
        }
    }
}

impl fmt::Display for IdentityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IdentityLevel {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| {
                ParseError::malformed("identity", format!("unknown identity level {s:?}"))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_many_gives_what_parse_gives_point_by_point() {
        let good: Vec<String> = (1u8..=20)
            .map(|i| {
                let x = format!("{:064x}", u64::from(i));
                ["02", "03"]
                    .iter()
                    .map(|p| format!("{p}{x}"))
                    .find(|h| Point::parse(h).is_ok())
                    .unwrap_or_else(|| format!("02{x}"))
            })
            .collect();
        let on: Vec<&str> = good
            .iter()
            .filter(|h| Point::parse(h).is_ok())
            .map(String::as_str)
            .collect();
        let off = (1u64..)
            .map(|x| format!("02{x:064x}"))
            .find(|h| Point::parse(h).is_err())
            .expect("an x off the curve");
        assert!(on.len() > 5);
        let all: Vec<_> = Point::parse_many(&on);
        assert!(all.iter().all(Result::is_ok));
        let mut mixed = on.clone();
        mixed.insert(3, &off);
        mixed.push("zz");
        let results = Point::parse_many(&mixed);
        for (h, r) in mixed.iter().zip(&results) {
            assert_eq!(r.is_ok(), Point::parse(h).is_ok(), "{h}");
        }
        assert!(results[3].is_err() && results[mixed.len() - 1].is_err());
    }

    const G_X: &str = "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";

    #[test]
    fn mint_key_accepts_both_forms_and_agrees() {
        let x = MintKey::parse(G_X).expect("x-only");
        let c = MintKey::parse(&format!("02{G_X}")).expect("compressed");
        let c3 = MintKey::parse(&format!("03{G_X}")).expect("compressed odd");
        assert_eq!(x, c);
        assert_eq!(x, c3);
        assert_eq!(x.to_hex(), G_X);
    }

    #[test]
    fn the_on_curve_cache_answers_as_libsecp256k1_does_and_stays_bounded() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        // Random x: about half are on the curve. Asked twice, and past the cache's size so it
        // empties at least once: every answer must be libsecp256k1's.
        let xs: Vec<[u8; 32]> = (0..2 * KNOWN_ON_CURVE_MAX + 2000)
            .map(|_| rng.gen())
            .collect();
        let mut valid = 0;
        for round in 0..2 {
            for x in &xs {
                let expected = XOnlyPublicKey::from_slice(x).is_ok();
                assert_eq!(
                    MintKey::from_x_only_bytes(*x).is_ok(),
                    expected,
                    "round {round}"
                );
                valid += usize::from(expected && round == 0);
            }
        }
        assert!(valid > KNOWN_ON_CURVE_MAX, "{valid} valid keys");
        KNOWN_ON_CURVE.with(|known| assert!(known.borrow().len() <= KNOWN_ON_CURVE_MAX));
    }

    #[test]
    fn mint_key_rejects_bad_input() {
        assert!(MintKey::parse("").is_err());
        assert!(MintKey::parse(&"z".repeat(64)).is_err());
        assert!(MintKey::parse(&format!("04{G_X}")).is_err());
        // x = 5 is not on secp256k1 (5^3 + 7 = 132 is not a square mod p).
        assert!(MintKey::parse(&format!("{:064x}", 5)).is_err());
    }

    #[test]
    fn point_checks_prefix_and_curve() {
        assert!(Point::parse(&format!("02{G_X}")).is_ok());
        assert!(Point::parse(&format!("05{G_X}")).is_err());
        assert!(Point::parse(&format!("02{:064x}", 5)).is_err());
        assert!(Point::from_bytes(&[2u8; 32]).is_err());
    }

    #[test]
    fn amount_and_epoch_ranges() {
        assert!(Amount::new(0).is_err());
        assert!(Amount::new(1).is_ok());
        assert!(Amount::new(i64::MAX as u64).is_ok());
        assert!(Amount::new(i64::MAX as u64 + 1).is_err());
        assert!(Amount::from_i128(-1).is_err());
        assert!(Epoch::new(0).is_ok());
        assert!(Epoch::from_i128(-1).is_err());
    }

    #[test]
    fn unit_normalises() {
        assert_eq!(Unit::parse("SAT").expect("unit").as_str(), "sat");
        assert!(Unit::parse("").is_err());
        assert!(Unit::parse("s a t").is_err());
    }

    #[test]
    fn keyset_ids() {
        assert!(matches!(
            KeysetId::parse("009a1f293253e41e"),
            Ok(KeysetId::V1(_))
        ));
        assert!(matches!(
            KeysetId::parse(&format!("01{}", "ab".repeat(32))),
            Ok(KeysetId::V2(_))
        ));
        assert!(KeysetId::parse("019a1f293253e41e").is_err());
    }

    #[test]
    fn urls_normalise() {
        let a = MintUrl::parse("https://Mint.Example.com/").expect("url");
        let b = MintUrl::parse("https://mint.example.com").expect("url");
        assert_eq!(a, b);
        assert!(MintUrl::parse("ftp://mint.example.com").is_err());
        assert!(MintUrl::parse("not a url").is_err());
    }

    #[test]
    fn networks() {
        assert_eq!(Network::from_tag("bitcoin"), Network::Mainnet);
        assert_eq!(Network::from_tag("signet"), Network::Signet);
        assert_eq!(Network::from_tag("liquid"), Network::Unknown);
    }
}
