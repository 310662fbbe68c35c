//! Test support: a fresh Postgres database per test, and signed events built with nostr.

#![allow(dead_code)]

use std::sync::Arc;

use mintwatch_indexer::pipeline::{Content, RelayUrl, Verified};
use mintwatch_protocol::broadcast::{BurnEntry, CashuData, DataGroup, GroupContents, MintEntry};
use mintwatch_protocol::{Amount, Epoch, EventId, MintKey, Point, SignedEvent, Unit};
use nostr::{EventBuilder, JsonUtil, Keys, Kind, Tag, Timestamp};

pub use mintwatch_testkit::TestDb;

pub fn relay(url: &str) -> RelayUrl {
    Arc::from(url)
}

/// Signs an event and wraps it as the pipeline would hand it to the store.
pub fn verified(
    keys: &Keys,
    kind: u16,
    content: &str,
    tags: Vec<Vec<String>>,
    created_at: u64,
    relay_url: &str,
    typed: Content,
) -> Verified {
    let event = EventBuilder::new(Kind::Custom(kind), content)
        .tags(tags.into_iter().map(|t| Tag::parse(t).expect("tag")))
        .custom_created_at(Timestamp::from_secs(created_at))
        .sign_with_keys(keys)
        .expect("sign");
    Verified {
        event: SignedEvent::from(&event),
        json: event.as_json().into_boxed_str(),
        relay: relay(relay_url),
        content: typed,
    }
}

pub fn mint_key(keys: &Keys) -> MintKey {
    MintKey::from_x_only_bytes(keys.public_key().to_bytes()).expect("x-only key")
}

/// A random valid point: `02 || x` for pseudo-random x until x is on the curve (half of them
/// are). Decompressing is far cheaper than a key generation, which matters for 200k points.
pub fn random_point() -> Point {
    use nostr::hashes::{sha256, Hash};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static SEED: OnceLock<[u8; 16]> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = SEED.get_or_init(|| *uuid::Uuid::new_v4().as_bytes());
    loop {
        let mut input = seed.to_vec();
        input.extend_from_slice(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        let mut bytes = [2u8; 33];
        bytes[1..].copy_from_slice(&sha256::Hash::hash(&input).to_byte_array());
        if let Ok(p) = Point::from_bytes(&bytes) {
            return p;
        }
    }
}

pub fn unit(s: &str) -> Unit {
    Unit::parse(s).expect("unit")
}

pub fn burns(epoch: u64, unit_name: &str, entries: &[(Point, u64)]) -> DataGroup {
    DataGroup {
        epoch: Epoch::new(epoch).expect("epoch"),
        unit: unit(unit_name),
        contents: GroupContents::Burn(
            entries
                .iter()
                .map(|(y, a)| BurnEntry {
                    y: *y,
                    amount: Amount::new(*a).expect("amount"),
                })
                .collect(),
        ),
    }
}

pub fn mints(epoch: u64, unit_name: &str, amounts: &[u64]) -> DataGroup {
    DataGroup {
        epoch: Epoch::new(epoch).expect("epoch"),
        unit: unit(unit_name),
        contents: GroupContents::Mint(
            amounts
                .iter()
                .map(|a| MintEntry {
                    b_: random_point(),
                    c_: random_point(),
                    amount: Amount::new(*a).expect("amount"),
                })
                .collect(),
        ),
    }
}

/// A 4919 signed by `keys` with `groups`, optionally chained to `prev`.
pub fn cashu_data(
    keys: &Keys,
    groups: Vec<DataGroup>,
    prev: Option<EventId>,
    created_at: u64,
    relay_url: &str,
) -> Verified {
    let data = CashuData { groups, prev };
    let tags = prev
        .map(|p| vec![vec!["e".to_string(), p.to_hex()]])
        .unwrap_or_default();
    verified(
        keys,
        4919,
        &data.encode_content(),
        tags,
        created_at,
        relay_url,
        Content::CashuData(data),
    )
}
