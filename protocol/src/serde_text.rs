//! Serde for the parsing types, once: each is written as its text form (its `Display`) and read
//! back through its parser (its `FromStr`), so a bad value in a request or a stored document is a
//! serde error naming the problem, and no adapter is written twice. `Network` is the one exception:
//! it reads any `n` tag spelling but refuses a name it does not know, since a request for an
//! unknown network is a mistake rather than a filter.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::event::EventId;
use crate::findings::FindingKind;
use crate::types::{IdentityLevel, MintKey, MintUrl, Network, Point, Unit};

/// Reads a string and parses it with `parse`, naming `expecting` when it is not a string.
struct TextVisitor<T> {
    expecting: &'static str,
    parse: fn(&str) -> Result<T, String>,
}

impl<T> Visitor<'_> for TextVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<T, E> {
        (self.parse)(s).map_err(E::custom)
    }
}

macro_rules! text_serde {
    ($($ty:ty => $expecting:literal),* $(,)?) => {$(
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_str(TextVisitor {
                    expecting: $expecting,
                    parse: |s| s.parse::<$ty>().map_err(|e| e.to_string()),
                })
            }
        }
    )*};
}

text_serde! {
    MintKey => "a mint key (64 hex characters, or 66 compressed)",
    Point => "a compressed secp256k1 point (66 hex characters)",
    Unit => "a unit",
    MintUrl => "an http(s) URL",
    IdentityLevel => "an identity level",
    EventId => "an event id (64 hex characters)",
    FindingKind => "a finding name",
}

impl Serialize for Network {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Network {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(TextVisitor {
            expecting: "a network name",
            parse: |s| match Network::from_tag(s) {
                Network::Unknown if !s.trim().eq_ignore_ascii_case("unknown") => {
                    Err(format!("network: unknown network {s:?}"))
                }
                n => Ok(n),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_type_round_trips_through_its_text() {
        let key: MintKey = serde_json::from_str(
            "\"79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798\"",
        )
        .expect("a key on the curve");
        assert_eq!(
            serde_json::to_string(&key).expect("serialize"),
            format!("\"{}\"", key.to_hex())
        );
        let level: IdentityLevel = serde_json::from_str("\"self-signed\"").expect("level");
        assert_eq!(level, IdentityLevel::SelfSigned);
        assert_eq!(
            serde_json::to_string(&Network::Mainnet).expect("serialize"),
            "\"mainnet\""
        );
        let url: MintUrl = serde_json::from_str("\"https://Mint.Example/\"").expect("url");
        assert_eq!(url.as_str(), "https://mint.example");
    }

    #[test]
    fn a_bad_value_is_an_error_that_names_it() {
        let e = serde_json::from_str::<MintKey>("\"zz\"").expect_err("not hex");
        assert!(e.to_string().contains("hex"), "{e}");
        let e = serde_json::from_str::<Network>("\"moonnet\"").expect_err("unknown network");
        assert!(e.to_string().contains("moonnet"), "{e}");
        assert_eq!(
            serde_json::from_str::<Network>("\"unknown\"").expect("spelled out"),
            Network::Unknown
        );
        let e = serde_json::from_str::<IdentityLevel>("7").expect_err("not a string");
        assert!(e.to_string().contains("identity level"), "{e}");
    }
}
