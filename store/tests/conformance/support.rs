//! Signed events built with nostr, wrapped as the indexer hands them to the store, and a fresh
//! database per test.

use std::sync::Arc;

use mintwatch_protocol::broadcast::{
    BurnEntry, CashuData, DataGroup, FinEpoch, GroupContents, MintEntry, MintInfo,
};
use mintwatch_protocol::nip87::{
    AnnouncedMint, AnnouncementMetadata, Deletion, MintAnnouncement, Recommendation, ReviewTarget,
};
use mintwatch_protocol::{
    Amount, Epoch, EventId, MintKey, MintUrl, Network, Point, SignedEvent, Unit,
};
use mintwatch_store::batch::{Content, Cursor, Rejection, RelayUrl, StoreBatch, Verified};
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

pub const RELAY_A: &str = "wss://relay-a.example";
pub const RELAY_B: &str = "wss://relay-b.example";

pub fn cursor(relay_url: &str, filter: &str, until: u64, newest: u64) -> Cursor {
    Cursor {
        relay: relay(relay_url),
        filter: filter.to_string(),
        backfill_until: Some(until),
        backfill_done: false,
        newest_seen: Some(newest),
    }
}

pub fn rejection(relay_url: &str, reason: &str, kind: Option<u16>) -> Rejection {
    Rejection {
        relay: relay(relay_url),
        reason: reason.to_string(),
        kind,
    }
}

pub fn announcement(
    author: &Keys,
    mint: &MintKey,
    url: &str,
    name: &str,
    created_at: u64,
) -> Verified {
    let d = mint.to_hex();
    let typed = MintAnnouncement {
        d: d.clone(),
        mint: AnnouncedMint::Key(*mint),
        urls: vec![MintUrl::parse(url).expect("url")],
        nuts: vec![4, 5, 7],
        network: Some(Network::Mainnet),
        metadata: AnnouncementMetadata {
            name: Some(name.to_string()),
            ..AnnouncementMetadata::default()
        },
    };
    verified(
        author,
        38172,
        &format!("{{\"name\":\"{name}\"}}"),
        vec![
            vec!["d".into(), d],
            vec!["u".into(), url.into()],
            vec!["nuts".into(), "4,5,7".into()],
            vec!["n".into(), "mainnet".into()],
        ],
        created_at,
        RELAY_A,
        Content::MintAnnouncement(typed),
    )
}

pub fn review(author: &Keys, mint: &MintKey, rating: f64, text: &str, created_at: u64) -> Verified {
    let coordinate = format!("38172:{}:{}", mint.to_hex(), mint.to_hex());
    let typed = Recommendation {
        target_kind: 38172,
        target: ReviewTarget::Coordinate {
            kind: 38172,
            author: mint.to_hex(),
            d: mint.to_hex(),
        },
        rating: Some(rating),
        text: text.to_string(),
        target_mint: Some(*mint),
    };
    verified(
        author,
        38000,
        &format!("[{rating}/5] {text}"),
        vec![
            vec!["d".into(), mint.to_hex()],
            vec!["k".into(), "38172".into()],
            vec!["a".into(), coordinate],
        ],
        created_at,
        RELAY_A,
        Content::Recommendation(typed),
    )
}

pub fn deletion(author: &Keys, ids: &[EventId], created_at: u64) -> Verified {
    verified(
        author,
        5,
        "",
        ids.iter()
            .map(|id| vec!["e".to_string(), id.to_hex()])
            .collect(),
        created_at,
        RELAY_A,
        Content::Deletion(Deletion {
            event_ids: ids.to_vec(),
            coordinates: vec![],
        }),
    )
}

pub fn fin_epoch(keys: &Keys, epoch: u64, balance: u64, created_at: u64) -> Verified {
    let typed = FinEpoch {
        epoch: Epoch::new(epoch).expect("epoch"),
        outstanding_balance: balance,
        unit: unit("sat"),
        prev: None,
    };
    verified(
        keys,
        1337,
        &typed.encode_content_json(),
        vec![],
        created_at,
        RELAY_A,
        Content::FinEpoch(typed),
    )
}

pub fn batch(events: Vec<Verified>) -> StoreBatch {
    StoreBatch {
        events,
        ..StoreBatch::default()
    }
}

pub fn mint_info(keys: &Keys, content_key: Point, name: &str, created_at: u64) -> Verified {
    let raw = serde_json::json!({"name": name, "pubkey": content_key.to_hex()});
    let typed = MintInfo {
        pubkey: Some(content_key),
        name: Some(name.to_string()),
        description: Some("a test mint".to_string()),
        urls: vec![MintUrl::parse("https://info.example").expect("url")],
        nuts: vec![4, 5],
        units: vec![unit("sat"), unit("usd")],
        raw: raw.clone(),
    };
    verified(
        keys,
        11467,
        &MintInfo::encode_content(&raw),
        vec![],
        created_at,
        RELAY_A,
        Content::MintInfo(typed),
    )
}
