//! The store against a real Postgres: a fresh database per test.

mod support;

use std::time::Instant;

use mintwatch_indexer::pipeline::{Content, Cursor, Rejection, StoreBatch, Verified};
use mintwatch_indexer::store::{NewFinding, RelayCounter};
use mintwatch_protocol::broadcast::{FinEpoch, MintInfo};
use mintwatch_protocol::nip87::{
    AnnouncedMint, AnnouncementMetadata, Deletion, MintAnnouncement, Recommendation, ReviewTarget,
};
use mintwatch_protocol::{
    Epoch, EventId, FindingKind, IdentityLevel, MintKey, MintUrl, Network, Point,
};
use nostr::Keys;
use support::*;

const RELAY_A: &str = "wss://relay-a.example";
const RELAY_B: &str = "wss://relay-b.example";

fn cursor(relay_url: &str, filter: &str, until: u64, newest: u64) -> Cursor {
    Cursor {
        relay: relay(relay_url),
        filter: filter.to_string(),
        backfill_until: Some(until),
        backfill_done: false,
        newest_seen: Some(newest),
    }
}

fn rejection(relay_url: &str, reason: &str, kind: Option<u16>) -> Rejection {
    Rejection {
        relay: relay(relay_url),
        reason: reason.to_string(),
        kind,
    }
}

fn announcement(author: &Keys, mint: &MintKey, url: &str, name: &str, created_at: u64) -> Verified {
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

fn review(author: &Keys, mint: &MintKey, rating: f64, text: &str, created_at: u64) -> Verified {
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

fn deletion(author: &Keys, ids: &[EventId], created_at: u64) -> Verified {
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

fn fin_epoch(keys: &Keys, epoch: u64, balance: u64, created_at: u64) -> Verified {
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

fn batch(events: Vec<Verified>) -> StoreBatch {
    StoreBatch {
        events,
        ..StoreBatch::default()
    }
}

/// Row counts of every table a batch writes, for before/after comparisons.
async fn table_counts(db: &TestDb) -> Vec<(&'static str, i64)> {
    let mut out = Vec::new();
    for table in [
        "events",
        "event_relays",
        "mints",
        "announcements",
        "fedimint_announcements",
        "mint_infos",
        "reviews",
        "deletions",
        "burns",
        "issued",
        "chain_links",
        "fin_epochs",
        "mint_stats",
        "relay_cursors",
        "relay_counters",
    ] {
        out.push((table, db.count(table).await));
    }
    out
}

#[tokio::test]
async fn migrations_apply_on_an_empty_database() {
    let db = TestDb::new().await;
    // Applying again is a no-op, as it is at every start of the indexer.
    db.store.migrate().await.expect("second migrate");
    let (trgm,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")
            .fetch_one(db.store.pool())
            .await
            .expect("query");
    assert_eq!(trgm, 1, "pg_trgm is installed");
    for (table, n) in table_counts(&db).await {
        assert_eq!(n, 0, "{table} starts empty");
    }
    let (indexes,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM pg_indexes WHERE indexname IN
         ('burns_y_idx', 'mints_search_idx', 'mints_search_short_trgm_idx', 'mints_rank_idx',
          'mints_rank_sort_idx', 'mints_last_seen_idx')",
    )
    .fetch_one(db.store.pool())
    .await
    .expect("query");
    assert_eq!(indexes, 6, "the API's indexes exist");
    db.drop().await;
}

#[tokio::test]
async fn write_batch_then_read_back() {
    let db = TestDb::new().await;
    let mint = Keys::generate();
    let key = mint_key(&mint);
    let (y1, y2, y3, y4) = (
        random_point(),
        random_point(),
        random_point(),
        random_point(),
    );
    let e1 = cashu_data(
        &mint,
        vec![
            burns(0, "sat", &[(y1, 10), (y2, 20)]),
            mints(0, "sat", &[64, 32]),
            burns(1, "usd", &[(y4, 5)]),
        ],
        None,
        1_000,
        RELAY_A,
    );
    let e2 = cashu_data(
        &mint,
        vec![burns(0, "sat", &[(y3, 8)])],
        Some(e1.event.id),
        1_060,
        RELAY_B,
    );
    let (id1, id2) = (e1.event.id, e2.event.id);
    let json1 = e1.json.to_string();
    let b = StoreBatch {
        events: vec![e1, e2],
        seen_again: vec![(relay(RELAY_B), id1)],
        cursors: vec![
            cursor(RELAY_A, "public", 900, 1_000),
            cursor(RELAY_A, "public", 800, 1_100),
        ],
        rejections: vec![
            (rejection(RELAY_A, "bad_signature", Some(4919)), 3),
            (rejection(RELAY_A, "malformed", None), 2),
            (rejection(RELAY_A, "bad_signature", Some(4919)), 1),
            (rejection(RELAY_B, "too_large", Some(4919)), 7),
        ],
    };
    let outcome = db.store.write_batch(&b).await.expect("write");
    assert_eq!(outcome.new_events, vec![id1, id2]);
    assert_eq!(outcome.burns, 4);
    assert_eq!(outcome.issued, 2);
    assert!(outcome.changed_mints.contains(&key));
    assert_eq!(outcome.changed_mints.len(), 1);

    // Burns by Y: only the asked ones, with all their fields.
    let found = db
        .store
        .burns_by_y(&[y1, y3, random_point()])
        .await
        .expect("burns");
    assert_eq!(found.len(), 2);
    let b1 = found.iter().find(|b| b.y == y1).expect("y1 burnt");
    assert_eq!(
        (
            b1.mint,
            b1.event_id,
            b1.amount.get(),
            b1.unit.as_str(),
            b1.epoch.get(),
            b1.pos
        ),
        (key, id1, 10, "sat", 0, 0)
    );
    let b3 = found.iter().find(|b| b.y == y3).expect("y3 burnt");
    assert_eq!((b3.event_id, b3.amount.get()), (id2, 8));

    // Statistics per (unit, epoch).
    let stats = db.store.mint_stats(&key).await.expect("stats");
    assert_eq!(stats.len(), 2);
    let sat = &stats[0];
    assert_eq!((sat.unit.as_str(), sat.epoch.get()), ("sat", 0));
    assert_eq!((sat.burn_count, sat.burn_amount), (3, 38));
    assert_eq!((sat.mint_count, sat.mint_amount), (2, 96));
    let usd = &stats[1];
    assert_eq!((usd.unit.as_str(), usd.epoch.get()), ("usd", 1));
    assert_eq!((usd.burn_count, usd.burn_amount, usd.mint_count), (1, 5, 0));

    // The chain, in order.
    let chain = db.store.chain_links(&key).await.expect("chain");
    assert_eq!(chain.len(), 2);
    assert_eq!((chain[0].event_id, chain[0].prev), (id1, None));
    assert_eq!((chain[1].event_id, chain[1].prev), (id2, Some(id1)));

    // The last cursor of a (relay, filter) is the one kept.
    let c = db
        .store
        .cursor(RELAY_A, "public")
        .await
        .expect("cursor")
        .expect("stored");
    assert_eq!(c, cursor(RELAY_A, "public", 800, 1_100));
    assert!(db
        .store
        .cursor(RELAY_B, "public")
        .await
        .expect("cursor")
        .is_none());

    // Counters are summed per (relay, reason, kind).
    let counters = db.store.relay_counters(RELAY_A).await.expect("counters");
    assert_eq!(
        counters,
        vec![
            RelayCounter {
                reason: "bad_signature".into(),
                kind: Some(4919),
                count: 4
            },
            RelayCounter {
                reason: "malformed".into(),
                kind: None,
                count: 2
            },
        ]
    );
    assert_eq!(
        db.store.relay_counters(RELAY_B).await.expect("counters")[0].count,
        7
    );

    // The evidence is stored verbatim, with every relay it was seen on.
    assert_eq!(
        db.store.event_json(&id1).await.expect("json").as_deref(),
        Some(json1.as_str())
    );
    assert_eq!(
        db.store.event_relays(&id1).await.expect("relays"),
        vec![RELAY_A.to_string(), RELAY_B.to_string()]
    );
    // An event's first relay is kept once, in `events`; `event_relays` holds the others only.
    assert_eq!(db.count("event_relays").await, 1);
    let again = db
        .store
        .write_batch(&StoreBatch {
            seen_again: vec![
                (relay(RELAY_A), id1),
                (relay(RELAY_B), id1),
                (relay(RELAY_A), id2),
            ],
            ..StoreBatch::default()
        })
        .await
        .expect("sightings");
    assert_eq!(again.new_sightings, 1, "only id2 on relay A is new");
    assert_eq!(
        again.changed_mints.into_iter().collect::<Vec<_>>(),
        vec![key]
    );
    assert_eq!(db.count("event_relays").await, 2);
    assert_eq!(
        db.store.event_relays(&id2).await.expect("relays"),
        vec![RELAY_A.to_string(), RELAY_B.to_string()]
    );

    // Dedup sees what is stored, and nothing else.
    let unknown = EventId([7; 32]);
    let known = db
        .store
        .known_ids(&[id1, unknown, id2])
        .await
        .expect("known");
    assert_eq!(known.len(), 2);
    assert!(known.contains(&id1) && known.contains(&id2) && !known.contains(&unknown));

    // The mint is in the directory, unbound (only 4919 events), with its counters.
    let row = db.store.mint(&key).await.expect("mint").expect("listed");
    assert_eq!(row.identity, IdentityLevel::Unbound);
    assert_eq!((row.first_seen, row.last_seen), (1_000, 1_060));
    assert_eq!(row.last_active, Some(1_060));
    assert_eq!((row.event_count, row.burn_count, row.mint_count), (2, 4, 2));
    db.drop().await;
}

#[tokio::test]
async fn the_same_batch_twice_changes_nothing() {
    let db = TestDb::new().await;
    let mint = Keys::generate();
    let key = mint_key(&mint);
    let reviewer = Keys::generate();
    let data = cashu_data(
        &mint,
        vec![
            burns(0, "sat", &[(random_point(), 4)]),
            mints(0, "sat", &[8]),
        ],
        None,
        2_000,
        RELAY_A,
    );
    let r = review(&reviewer, &key, 4.0, "fine", 2_001);
    let events = vec![
        data.clone(),
        // The same event twice in one batch is stored once.
        Verified {
            relay: relay(RELAY_B),
            ..data.clone()
        },
        announcement(&mint, &key, "https://mint.example", "Example", 2_002),
        r.clone(),
        deletion(&reviewer, &[EventId([9; 32])], 2_003),
        fin_epoch(&mint, 0, 4, 2_004),
    ];
    let b = StoreBatch {
        events,
        seen_again: vec![],
        cursors: vec![cursor(RELAY_A, "public", 1_000, 2_004)],
        rejections: vec![],
    };
    let first = db.store.write_batch(&b).await.expect("first write");
    assert_eq!(first.new_events.len(), 5);
    assert_eq!(first.burns, 1);
    let counts = table_counts(&db).await;
    let stats = db.store.mint_stats(&key).await.expect("stats");
    let row = db.store.mint(&key).await.expect("mint");
    assert_eq!(db.count("burns").await, 1);
    assert_eq!(stats[0].burn_count, 1);

    let second = db.store.write_batch(&b).await.expect("second write");
    assert!(second.new_events.is_empty());
    assert_eq!(
        (second.burns, second.issued, second.new_sightings),
        (0, 0, 0)
    );
    assert!(second.changed_mints.is_empty());
    assert_eq!(table_counts(&db).await, counts);
    assert_eq!(db.store.mint_stats(&key).await.expect("stats"), stats);
    assert_eq!(db.store.mint(&key).await.expect("mint"), row);

    // Old and new events in one batch (the events COPY fails on the stored ids and the batch
    // falls back to the conflict-checked insert): only the new ones count, nothing is doubled.
    let later = review(&Keys::generate(), &key, 5.0, "great", 2_010);
    let mixed = StoreBatch {
        events: vec![data.clone(), later.clone(), r.clone()],
        seen_again: vec![],
        cursors: vec![],
        rejections: vec![],
    };
    let third = db.store.write_batch(&mixed).await.expect("mixed write");
    assert_eq!(third.new_events, vec![later.event.id]);
    assert_eq!((third.burns, third.new_sightings), (0, 1));
    assert_eq!(db.count("burns").await, 1);
    assert_eq!(db.count("reviews").await, 2);
    assert_eq!(db.count("events").await, 6);
    db.drop().await;
}

#[tokio::test]
async fn a_failing_batch_leaves_nothing_behind() {
    let db = TestDb::new().await;
    let mint = Keys::generate();
    let good_cursor = cursor(RELAY_A, "public", 10, 20);
    // Postgres text cannot hold NUL: the cursor statement, which runs after every other write
    // of the batch, fails.
    let bad_cursor = cursor(RELAY_A, "pub\0lic", 10, 20);
    let mut b = StoreBatch {
        events: vec![
            cashu_data(
                &mint,
                vec![burns(0, "sat", &[(random_point(), 1)])],
                None,
                5,
                RELAY_A,
            ),
            announcement(&mint, &mint_key(&mint), "https://m.example", "M", 6),
        ],
        seen_again: vec![],
        cursors: vec![good_cursor.clone(), bad_cursor],
        rejections: vec![(rejection(RELAY_A, "bad_signature", Some(4919)), 2)],
    };
    let err = db.store.write_batch(&b).await;
    let err = err.expect_err("the batch must fail");
    assert!(err.to_string().contains("0x00"), "fails on the NUL: {err}");
    for (table, n) in table_counts(&db).await {
        assert_eq!(n, 0, "{table} rolled back");
    }
    assert!(db
        .store
        .cursor(RELAY_A, "public")
        .await
        .expect("cursor")
        .is_none());

    // Without the bad cursor the same batch commits whole.
    b.cursors.pop();
    let ok = db.store.write_batch(&b).await.expect("write");
    assert_eq!(ok.new_events.len(), 2);
    assert_eq!(db.count("burns").await, 1);
    assert_eq!(db.count("relay_counters").await, 1);
    assert_eq!(
        db.store.cursor(RELAY_A, "public").await.expect("cursor"),
        Some(good_cursor)
    );
    db.drop().await;
}

#[tokio::test]
async fn the_latest_announcement_wins_and_ties_go_to_the_lowest_id() {
    let db = TestDb::new().await;
    let mint = Keys::generate();
    let key = mint_key(&mint);
    let author: [u8; 32] = *key.as_bytes();
    let d = key.to_hex();

    // A newer one, then an older one arriving late: the newer stays.
    let newer = announcement(&mint, &key, "https://new.example", "New", 200);
    let older = announcement(&mint, &key, "https://old.example", "Old", 100);
    db.store
        .write_batch(&batch(vec![newer.clone()]))
        .await
        .expect("write");
    db.store
        .write_batch(&batch(vec![older]))
        .await
        .expect("write");
    let live = db
        .store
        .announcement(&author, &d)
        .await
        .expect("read")
        .expect("live");
    assert_eq!(live.event_id, newer.event.id);
    assert_eq!(live.urls, vec!["https://new.example".to_string()]);
    assert_eq!(live.mint, Some(key));
    let row = db.store.mint(&key).await.expect("mint").expect("listed");
    assert_eq!(row.identity, IdentityLevel::SelfSigned);
    assert_eq!(row.name.as_deref(), Some("New"));
    assert_eq!(row.network.as_deref(), Some("mainnet"));
    assert_eq!(row.nuts, vec![4, 5, 7]);

    // Same created_at: the lowest id wins, whichever arrives first.
    let x = announcement(&mint, &key, "https://x.example", "X", 300);
    let y = announcement(&mint, &key, "https://y.example", "Y", 300);
    let (low, high) = if x.event.id.0 < y.event.id.0 {
        (x, y)
    } else {
        (y, x)
    };
    db.store
        .write_batch(&batch(vec![high.clone()]))
        .await
        .expect("write");
    let outcome = db
        .store
        .write_batch(&batch(vec![low.clone()]))
        .await
        .expect("write");
    assert!(outcome.changed_mints.contains(&key));
    let live = db.store.announcement(&author, &d).await.expect("read");
    assert_eq!(live.map(|a| a.event_id), Some(low.event.id));
    // And the higher id arriving again later does not displace it.
    let again = Verified {
        relay: relay(RELAY_B),
        ..high.clone()
    };
    db.store
        .write_batch(&batch(vec![again]))
        .await
        .expect("write");
    let live = db.store.announcement(&author, &d).await.expect("read");
    assert_eq!(live.map(|a| a.event_id), Some(low.event.id));

    // Both in one batch, high first: one statement may not touch a row twice, and the rule
    // still holds.
    let db2 = TestDb::new().await;
    db2.store
        .write_batch(&batch(vec![high, low.clone()]))
        .await
        .expect("write");
    let live = db2.store.announcement(&author, &d).await.expect("read");
    assert_eq!(live.map(|a| a.event_id), Some(low.event.id));
    db2.drop().await;

    // Another signer naming a mint with no announcement of its own: operator level.
    let operator = Keys::generate();
    let other = Keys::generate();
    let other_key = mint_key(&other);
    db.store
        .write_batch(&batch(vec![announcement(
            &operator,
            &other_key,
            "https://op.example",
            "Op",
            50,
        )]))
        .await
        .expect("write");
    let row = db
        .store
        .mint(&other_key)
        .await
        .expect("mint")
        .expect("listed");
    assert_eq!(row.identity, IdentityLevel::Operator);
    // Others' announcements are not the mint's own activity.
    assert_eq!((row.last_seen, row.last_active), (50, None));
    assert_eq!(row.urls, vec!["https://op.example".to_string()]);
    db.drop().await;
}

#[tokio::test]
async fn reviews_are_replaced_and_deleted_in_any_order() {
    let db = TestDb::new().await;
    let mint = Keys::generate();
    let key = mint_key(&mint);
    let alice = Keys::generate();
    let bob = Keys::generate();
    let alice_bytes = alice.public_key().to_bytes();

    // A newer review replaces an older one, whatever the arrival order.
    let r2 = review(&alice, &key, 5.0, "great", 200);
    let r1 = review(&alice, &key, 2.0, "meh", 100);
    let out = db
        .store
        .write_batch(&batch(vec![r2.clone()]))
        .await
        .expect("write");
    assert!(out.changed_mints.contains(&key));
    db.store.write_batch(&batch(vec![r1])).await.expect("write");
    let live = db.store.live_reviews_of(&key).await.expect("reviews");
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].event_id, r2.event.id);
    assert_eq!(live[0].rating, Some(5.0));
    assert_eq!(live[0].text, "great");

    // Bob cannot delete Alice's review.
    db.store
        .write_batch(&batch(vec![deletion(&bob, &[r2.event.id], 250)]))
        .await
        .expect("write");
    assert_eq!(
        db.store.live_reviews_of(&key).await.expect("reviews").len(),
        1
    );

    // Alice deletes her live review after it arrived: she has no live review (the superseded
    // one does not come back).
    let out = db
        .store
        .write_batch(&batch(vec![deletion(&alice, &[r2.event.id], 300)]))
        .await
        .expect("write");
    assert!(out.changed_mints.contains(&key));
    assert!(db
        .store
        .live_reviews_by(&alice_bytes)
        .await
        .expect("reviews")
        .is_empty());

    // Bob's deletion arrives before the review it deletes: the review is never live.
    let b1 = review(&bob, &key, 1.0, "bad", 400);
    db.store
        .write_batch(&batch(vec![deletion(&bob, &[b1.event.id], 401)]))
        .await
        .expect("write");
    db.store
        .write_batch(&batch(vec![b1.clone()]))
        .await
        .expect("write");
    assert!(db
        .store
        .live_reviews_by(&bob.public_key().to_bytes())
        .await
        .expect("reviews")
        .is_empty());
    // ...and a later review by Bob is live again.
    let b2 = review(&bob, &key, 4.0, "better now", 500);
    db.store
        .write_batch(&batch(vec![b2.clone()]))
        .await
        .expect("write");
    let live = db.store.live_reviews_of(&key).await.expect("reviews");
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].event_id, b2.event.id);
    assert_eq!(live[0].target_mint, Some(key));
    // Both reviews stay stored (evidence), only the live view changes.
    assert_eq!(db.count("reviews").await, 4);
    db.drop().await;
}

#[tokio::test]
async fn text_with_nul_does_not_poison_a_batch() {
    let db = TestDb::new().await;
    let mint = Keys::generate();
    let key = mint_key(&mint);
    let alice = Keys::generate();
    let r = review(&alice, &key, 3.0, "a\0b", 10);
    db.store.write_batch(&batch(vec![r])).await.expect("write");
    let live = db.store.live_reviews_of(&key).await.expect("reviews");
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].text, "ab");
    db.drop().await;
}

#[tokio::test]
async fn findings_are_idempotent_per_key() {
    let db = TestDb::new().await;
    let mint = Keys::generate();
    let key = mint_key(&mint);
    let y = random_point();
    let finding = |ids: Vec<EventId>| NewFinding {
        mint: key,
        kind: FindingKind::DoubleSpend,
        key: y.to_hex(),
        y: Some(y),
        unit: Some(unit("sat")),
        epoch: Some(Epoch::new(0).expect("epoch")),
        event_ids: ids,
        detail: serde_json::json!({"count": 2}),
    };
    let (a, b) = (EventId([1; 32]), EventId([2; 32]));
    db.store
        .upsert_findings(&[finding(vec![b, a])])
        .await
        .expect("upsert");
    db.store
        .upsert_findings(&[finding(vec![a, b])])
        .await
        .expect("upsert");
    assert_eq!(db.count("findings").await, 1);
    db.store
        .upsert_findings(&[finding(vec![a, b, EventId([3; 32])])])
        .await
        .expect("upsert");
    let (n,): (i32,) = sqlx::query_as("SELECT cardinality(event_ids) FROM findings")
        .fetch_one(db.store.pool())
        .await
        .expect("query");
    assert_eq!(n, 3, "re-deriving updates the evidence in place");
    assert_eq!(db.count("findings").await, 1);
    let resolved = db
        .store
        .resolve_finding(&key, FindingKind::DoubleSpend, &y.to_hex())
        .await
        .expect("resolve");
    assert!(resolved);
    assert!(!db
        .store
        .resolve_finding(&key, FindingKind::Fork, &y.to_hex())
        .await
        .expect("resolve"));
    let (open,): (i64,) = sqlx::query_as("SELECT count(*) FROM findings WHERE NOT resolved")
        .fetch_one(db.store.pool())
        .await
        .expect("query");
    assert_eq!(open, 0);
    db.drop().await;
}

/// Write throughput of burns: `cargo test -p mintwatch-indexer --release --test store --
/// --ignored --nocapture store_throughput`. Measured 93k–115k burns/s (release, 2 busy cores,
/// local Postgres 15); about 60k in a debug build.
#[tokio::test]
#[ignore = "measurement, not a check; run by hand"]
async fn store_throughput() {
    const EVENTS: usize = 10;
    const PER_EVENT: usize = 20_000;
    let db = TestDb::new().await;
    let mint = Keys::generate();
    let key = mint_key(&mint);
    let mut events = Vec::with_capacity(EVENTS);
    let mut prev = None;
    for i in 0..EVENTS {
        let entries: Vec<_> = (0..PER_EVENT)
            .map(|_| (random_point(), 1 + (i as u64)))
            .collect();
        let e = cashu_data(
            &mint,
            vec![burns(0, "sat", &entries)],
            prev,
            10 + i as u64,
            RELAY_A,
        );
        prev = Some(e.event.id);
        events.push(e);
    }
    // Two batches of 100k: the second one writes into non-empty indexes.
    let second = events.split_off(EVENTS / 2);
    let started = Instant::now();
    let mut written = 0;
    for part in [events, second] {
        written += db
            .store
            .write_batch(&batch(part))
            .await
            .expect("write")
            .burns;
    }
    let elapsed = started.elapsed();
    let total = (EVENTS * PER_EVENT) as u64;
    assert_eq!(written, total);
    assert_eq!(db.count("burns").await, total as i64);
    assert_eq!(
        db.store.mint_stats(&key).await.expect("stats")[0].burn_count,
        total
    );
    println!(
        "store_throughput: {total} burns in {:.2?} = {:.0} burns/s",
        elapsed,
        total as f64 / elapsed.as_secs_f64()
    );
    db.drop().await;
}

fn mint_info(keys: &Keys, content_key: Point, name: &str, created_at: u64) -> Verified {
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

#[tokio::test]
async fn mint_identity_follows_the_live_11467() {
    let db = TestDb::new().await;
    let mint = Keys::generate();
    let key = mint_key(&mint);
    let mut own = [2u8; 33];
    own[1..].copy_from_slice(key.as_bytes());
    let own = Point::from_bytes(&own).expect("the signer's key as a compressed point");

    // An operator's announcement first, then the mint's own 11467: self-signed, and the
    // profile comes from the 11467.
    let operator = Keys::generate();
    db.store
        .write_batch(&batch(vec![announcement(
            &operator,
            &key,
            "https://op.example",
            "Op name",
            10,
        )]))
        .await
        .expect("write");
    assert_eq!(
        db.store.mint(&key).await.expect("mint").map(|m| m.identity),
        Some(IdentityLevel::Operator)
    );
    db.store
        .write_batch(&batch(vec![mint_info(&mint, own, "Own name", 20)]))
        .await
        .expect("write");
    let row = db.store.mint(&key).await.expect("mint").expect("listed");
    assert_eq!(row.identity, IdentityLevel::SelfSigned);
    assert_eq!(row.name.as_deref(), Some("Own name"));
    assert_eq!(row.urls, vec!["https://info.example".to_string()]);
    assert_eq!(row.units, vec!["sat".to_string(), "usd".to_string()]);
    assert_eq!(
        row.network.as_deref(),
        Some("mainnet"),
        "from the announcement"
    );

    // A newer 11467 whose content key is another key: mismatch.
    db.store
        .write_batch(&batch(vec![mint_info(&mint, random_point(), "Other", 30)]))
        .await
        .expect("write");
    let row = db.store.mint(&key).await.expect("mint").expect("listed");
    assert_eq!(row.identity, IdentityLevel::Mismatch);

    // The directory search finds it by a word of its name and by a fragment of its URL.
    let (by_word,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM mints WHERE search @@ plainto_tsquery('simple', 'other')",
    )
    .fetch_one(db.store.pool())
    .await
    .expect("query");
    let (by_fragment,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM mints WHERE search_short LIKE '%nfo.exam%'")
            .fetch_one(db.store.pool())
            .await
            .expect("query");
    assert_eq!((by_word, by_fragment), (1, 1));
    db.drop().await;
}
