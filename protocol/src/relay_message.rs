//! Reading relay → client messages (NIP-01) without building `nostr::Event`s: an event stays a
//! slice of the message, verbatim, and only the few header fields crawl needs for paging and
//! filter checks are read from it. Verification happens later, in parallel.
//!
//! A message comes from a relay anyone can run, so reading one costs one pass over its text and
//! memory for its first three elements, whatever it holds: the rest of the array is skipped
//! without being collected (a 16 MiB `[1,1,1,…]` allocates nothing), and deep nesting is read
//! past without recursion.

use std::fmt;

use serde::de::{IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// One relay message, borrowing from the text it was read from.
#[derive(Debug)]
pub enum RelayMessage<'a> {
    /// `["EVENT", sub, {...}]`.
    Event {
        /// The subscription id the relay answers.
        sub: String,
        /// The event object exactly as received.
        event: &'a RawValue,
    },
    /// `["EOSE", sub]`.
    Eose(String),
    /// `["CLOSED", sub, message]`.
    Closed(String, String),
    /// `["NOTICE", message]`.
    Notice(String),
    /// `["AUTH", challenge]` (NIP-42; crawl does not authenticate).
    Auth,
    /// `OK`, `COUNT` and NIP-77 replies: valid, but nothing crawl asked for.
    Ignored,
}

/// Why a message could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreadable {
    /// Not JSON, not an array, or missing the fields its type needs.
    Malformed,
    /// A JSON array whose type is not a NIP-01 relay message.
    UnknownType,
}

fn string(raw: Option<&&RawValue>) -> Result<String, Unreadable> {
    let raw = raw.ok_or(Unreadable::Malformed)?;
    serde_json::from_str(raw.get()).map_err(|_| Unreadable::Malformed)
}

/// The first three elements of a JSON array, borrowed; the others are read past, not kept.
struct FirstThree<'a>([Option<&'a RawValue>; 3]);

impl<'de> Deserialize<'de> for FirstThree<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Elements;
        impl<'de> Visitor<'de> for Elements {
            type Value = FirstThree<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON array")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut first = [None; 3];
                for slot in &mut first {
                    match seq.next_element::<&'de RawValue>()? {
                        Some(raw) => *slot = Some(raw),
                        None => return Ok(FirstThree(first)),
                    }
                }
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(FirstThree(first))
            }
        }
        deserializer.deserialize_seq(Elements)
    }
}

impl<'a> RelayMessage<'a> {
    /// Parses one websocket text message, reading its first three elements and skipping the rest.
    pub fn parse(text: &'a str) -> Result<Self, Unreadable> {
        let FirstThree(first) = serde_json::from_str(text).map_err(|_| Unreadable::Malformed)?;
        let parts: Vec<&'a RawValue> = first.into_iter().map_while(|p| p).collect();
        let kind = string(parts.first())?;
        Ok(match kind.as_str() {
            "EVENT" => {
                let sub = string(parts.get(1))?;
                let event = *parts.get(2).ok_or(Unreadable::Malformed)?;
                RelayMessage::Event { sub, event }
            }
            "EOSE" => RelayMessage::Eose(string(parts.get(1))?),
            "CLOSED" => RelayMessage::Closed(
                string(parts.get(1))?,
                string(parts.get(2)).unwrap_or_default(),
            ),
            "NOTICE" => RelayMessage::Notice(string(parts.get(1))?),
            "AUTH" => RelayMessage::Auth,
            "OK" | "COUNT" | "NEG-MSG" | "NEG-ERR" => RelayMessage::Ignored,
            _ => return Err(Unreadable::UnknownType),
        })
    }
}

/// The fields of an event crawl reads: enough to page and to check the filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventHead {
    /// The event id as claimed (not yet recomputed: verification does that).
    pub id: [u8; 32],
    /// The author's x-only key as claimed.
    pub pubkey: [u8; 32],
    /// Unix seconds, as claimed.
    pub created_at: u64,
    /// The event kind (0..=65535).
    pub kind: u16,
}

#[derive(Deserialize)]
struct RawHead<'a> {
    // Hex never needs JSON escapes, so borrowing cannot fail on a well-formed event.
    id: &'a str,
    pubkey: &'a str,
    created_at: u64,
    kind: u16,
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

impl EventHead {
    /// Reads the header of an event object; `None` if it is not one.
    pub fn parse(event: &RawValue) -> Option<Self> {
        let raw: RawHead<'_> = serde_json::from_str(event.get()).ok()?;
        Some(Self {
            id: hex32(raw.id)?,
            pubkey: hex32(raw.pubkey)?,
            created_at: raw.created_at,
            kind: raw.kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_is_kept_verbatim() {
        let ev = r#"{"id":"aa00000000000000000000000000000000000000000000000000000000000000","pubkey":"bb00000000000000000000000000000000000000000000000000000000000000","created_at":7,"kind":38172,"tags":[["d","x"]],"content":"é \"q\"","sig":"cc"}"#;
        let msg = format!(r#"[ "EVENT" , "s1",{ev} ]"#);
        match RelayMessage::parse(&msg) {
            Ok(RelayMessage::Event { sub, event }) => {
                assert_eq!(sub, "s1");
                assert_eq!(event.get(), ev);
                let head = EventHead::parse(event).expect("head");
                assert_eq!(head.created_at, 7);
                assert_eq!(head.kind, 38172);
                assert_eq!(head.id[0], 0xaa);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_long_array_is_read_past_and_its_first_elements_still_count() {
        let mut msg = String::from(r#"["EOSE","s""#);
        for _ in 0..200_000 {
            msg.push_str(",[1,{\"a\":[2]}]");
        }
        msg.push(']');
        assert!(matches!(RelayMessage::parse(&msg), Ok(RelayMessage::Eose(s)) if s == "s"));
        let mut bad = msg.clone();
        bad.pop();
        assert_eq!(RelayMessage::parse(&bad).err(), Some(Unreadable::Malformed));
        // Deep nesting, kept as the third element or read past after it, is skipped without
        // recursion: no stack overflow, and the message still reads.
        let nest = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        for deep in [
            format!("[\"NOTICE\",\"n\",{nest}]"),
            format!("[\"NOTICE\",\"n\",1,{nest}]"),
        ] {
            assert!(matches!(RelayMessage::parse(&deep), Ok(RelayMessage::Notice(n)) if n == "n"));
        }
    }

    #[test]
    fn garbage_and_unknown_types() {
        assert_eq!(
            RelayMessage::parse("not json").err(),
            Some(Unreadable::Malformed)
        );
        assert_eq!(
            RelayMessage::parse(r#"{"a":1}"#).err(),
            Some(Unreadable::Malformed)
        );
        assert_eq!(
            RelayMessage::parse(r#"["EVENT","s"]"#).err(),
            Some(Unreadable::Malformed)
        );
        assert_eq!(
            RelayMessage::parse(r#"["HELLO","s"]"#).err(),
            Some(Unreadable::UnknownType)
        );
        assert!(matches!(
            RelayMessage::parse(r#"["EOSE","s"]"#),
            Ok(RelayMessage::Eose(s)) if s == "s"
        ));
        let bad = RawValue::from_string(r#"{"id":"zz","kind":1}"#.to_string()).expect("raw");
        assert!(EventHead::parse(&bad).is_none());
    }
}
