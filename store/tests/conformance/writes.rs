//! `Store::write_batch` and the point reads: what a batch stores, idempotence, atomicity.

use mintwatch_protocol::output::DirectoryQuery;
use mintwatch_protocol::{EventId, IdentityLevel, Point};
use mintwatch_store::batch::{StoreBatch, Verified};
use mintwatch_store::read::{check_spent, mint_cores, mint_report, search_mints, store_stats};
use mintwatch_store::MIGRATOR;
use nostr::Keys;

use crate::support::*;

/// Row counts of every table a batch writes, for before/after comparisons.
pub async fn table_counts(db: &TestDb) -> Vec<(&'static str, i64)> {
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

pub async fn migrate_is_idempotent_and_applies_every_migration(db: &TestDb) {
    db.store.migrate().await.expect("migrate again");
    let mut applied = db.store.applied_migrations().await.expect("applied");
    applied.sort_unstable();
    let wanted: Vec<i64> = MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| m.version)
        .collect();
    assert!(!wanted.is_empty());
    assert_eq!(applied, wanted);
    for (table, n) in table_counts(db).await {
        assert_eq!(n, 0, "{table} starts empty");
    }
}

pub async fn known_ids_are_the_stored_ones(db: &TestDb) {
    let mint = Keys::generate();
    let e1 = cashu_data(&mint, vec![mints(0, "sat", &[1])], None, 10, RELAY_A);
    let e2 = fin_epoch(&mint, 0, 1, 11);
    let (id1, id2) = (e1.event.id, e2.event.id);
    assert!(db.store.known_ids(&[]).await.expect("none").is_empty());
    db.store
        .write_batch(&batch(vec![e1, e2]))
        .await
        .expect("write");
    let unknown = EventId([7; 32]);
    let known = db
        .store
        .known_ids(&[id1, unknown, id2])
        .await
        .expect("known");
    assert_eq!(known.len(), 2);
    assert!(known.contains(&id1) && known.contains(&id2) && !known.contains(&unknown));
}

pub async fn write_batch_stores_events_and_their_rows(db: &TestDb) {
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
    let outcome = db
        .store
        .write_batch(&batch(vec![e1, e2]))
        .await
        .expect("write");
    assert_eq!(outcome.new_events, vec![id1, id2]);
    assert_eq!(outcome.burns, 4);
    assert_eq!(outcome.issued, 2);
    assert_eq!(
        outcome.changed_mints.into_iter().collect::<Vec<_>>(),
        vec![key]
    );

    // Burns by Y: only the asked ones, with their fields.
    let other = random_point();
    let found = check_spent(&db.store, &[y1, y3, other])
        .await
        .expect("spent");
    assert_eq!(found.len(), 3);
    let b1 = &found[0].burnt;
    assert_eq!(b1.len(), 1);
    assert_eq!(
        (
            b1[0].mint.as_str(),
            b1[0].amount,
            b1[0].unit.as_str(),
            b1[0].epoch
        ),
        (key.to_hex().as_str(), 10, "sat", 0)
    );
    assert_eq!(b1[0].events, vec![id1.to_hex()]);
    assert_eq!(found[1].burnt[0].events, vec![id2.to_hex()]);
    assert_eq!(found[1].burnt[0].amount, 8);
    assert!(found[2].burnt.is_empty());

    // Totals per (unit, epoch), and the directory row, unbound (only 4919 events).
    let core = mint_cores(&db.store, Some(&[key])).await.expect("cores");
    assert_eq!(core.len(), 1);
    let core = &core[0];
    let totals: Vec<_> = core
        .totals
        .iter()
        .map(|t| {
            (
                t.unit.as_str(),
                t.epoch,
                t.burn_count,
                t.burn_amount,
                t.mint_count,
                t.mint_amount,
            )
        })
        .collect();
    assert_eq!(
        totals,
        vec![("sat", 0, 3, 38, 2, 96), ("usd", 1, 1, 5, 0, 0)]
    );
    assert_eq!(core.identity, IdentityLevel::Unbound.as_str());
    assert_eq!((core.first_seen, core.last_seen), (1_000, 1_060));
    assert_eq!(core.last_active, Some(1_060));
    assert_eq!((core.events, core.burns, core.mints), (2, 4, 2));

    // The chain, in order (what the analysis reads of it).
    let (prev,): (Option<Vec<u8>>,) =
        sqlx::query_as("SELECT prev FROM chain_links WHERE event_id = $1")
            .bind(id2.0.to_vec())
            .fetch_one(db.store.pool())
            .await
            .expect("chain link");
    assert_eq!(prev, Some(id1.0.to_vec()));
}

pub async fn write_batch_keeps_the_last_cursor_of_a_relay_and_filter(db: &TestDb) {
    let b = StoreBatch {
        cursors: vec![
            cursor(RELAY_A, "public", 900, 1_000),
            cursor(RELAY_A, "public", 800, 1_100),
            cursor(RELAY_B, "mint-authors", 5, 6),
        ],
        ..StoreBatch::default()
    };
    db.store.write_batch(&b).await.expect("write");
    assert_eq!(
        db.store.all_cursors().await.expect("cursors"),
        vec![
            cursor(RELAY_A, "public", 800, 1_100),
            cursor(RELAY_B, "mint-authors", 5, 6),
        ]
    );
    // A later batch moves it on.
    let later = StoreBatch {
        cursors: vec![cursor(RELAY_A, "public", 700, 1_200)],
        ..StoreBatch::default()
    };
    db.store.write_batch(&later).await.expect("write");
    assert_eq!(
        db.store.all_cursors().await.expect("cursors")[0],
        cursor(RELAY_A, "public", 700, 1_200)
    );
}

pub async fn write_batch_sums_refusals_per_relay_reason_and_kind(db: &TestDb) {
    let b = StoreBatch {
        rejections: vec![
            (rejection(RELAY_A, "bad_signature", Some(4919)), 3),
            (rejection(RELAY_A, "malformed", None), 2),
            (rejection(RELAY_A, "bad_signature", Some(4919)), 1),
            (rejection(RELAY_B, "too_large", Some(4919)), 7),
        ],
        ..StoreBatch::default()
    };
    db.store.write_batch(&b).await.expect("write");
    let stats = store_stats(&db.store).await.expect("stats");
    let refused = |relay: &str| -> Vec<(String, Option<i32>, u64)> {
        stats
            .relays
            .iter()
            .find(|r| r.relay == relay)
            .expect("relay listed")
            .refused
            .iter()
            .map(|r| (r.reason.clone(), r.kind, r.count))
            .collect()
    };
    assert_eq!(
        refused(RELAY_A),
        vec![
            ("bad_signature".to_string(), Some(4919), 4),
            ("malformed".to_string(), None, 2),
        ]
    );
    assert_eq!(
        refused(RELAY_B),
        vec![("too_large".to_string(), Some(4919), 7)]
    );
}

pub async fn write_batch_records_each_sighting_once(db: &TestDb) {
    let mint = Keys::generate();
    let key = mint_key(&mint);
    let e1 = cashu_data(&mint, vec![mints(0, "sat", &[1])], None, 1_000, RELAY_A);
    let e2 = cashu_data(&mint, vec![mints(0, "sat", &[2])], None, 1_001, RELAY_B);
    let (id1, id2) = (e1.event.id, e2.event.id);
    let first = db
        .store
        .write_batch(&StoreBatch {
            events: vec![e1, e2],
            seen_again: vec![(relay(RELAY_B), id1)],
            ..StoreBatch::default()
        })
        .await
        .expect("write");
    assert_eq!(first.new_sightings, 3);
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
    let report = mint_report(&db.store, &key)
        .await
        .expect("report")
        .expect("listed");
    assert_eq!(
        report.relays,
        vec![RELAY_A.to_string(), RELAY_B.to_string()]
    );
    let stats = store_stats(&db.store).await.expect("stats");
    let seen: Vec<(String, u64)> = stats
        .relays
        .iter()
        .map(|r| (r.relay.clone(), r.events_seen))
        .collect();
    assert_eq!(
        seen,
        vec![(RELAY_A.to_string(), 2), (RELAY_B.to_string(), 2)]
    );
}

pub async fn the_same_batch_twice_changes_nothing(db: &TestDb) {
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
    let counts = table_counts(db).await;
    let core = |cores: Vec<mintwatch_store::read::MintCore>| {
        let c = &cores[0];
        (
            c.totals.clone(),
            c.identity.clone(),
            c.events,
            c.burns,
            c.mints,
            c.first_seen,
            c.last_seen,
            c.urls.clone(),
        )
    };
    let before = core(mint_cores(&db.store, Some(&[key])).await.expect("core"));
    assert_eq!(db.count("burns").await, 1);
    assert_eq!(before.0[0].burn_count, 1);

    let second = db.store.write_batch(&b).await.expect("second write");
    assert!(second.new_events.is_empty());
    assert_eq!(
        (second.burns, second.issued, second.new_sightings),
        (0, 0, 0)
    );
    assert!(second.changed_mints.is_empty());
    assert_eq!(table_counts(db).await, counts);
    let after = core(mint_cores(&db.store, Some(&[key])).await.expect("core"));
    assert_eq!(after, before);

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
}

pub async fn a_failing_batch_leaves_nothing_behind(db: &TestDb) {
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
    for (table, n) in table_counts(db).await {
        assert_eq!(n, 0, "{table} rolled back");
    }
    assert!(db.store.all_cursors().await.expect("cursors").is_empty());

    // Without the bad cursor the same batch commits whole.
    b.cursors.pop();
    let ok = db.store.write_batch(&b).await.expect("write");
    assert_eq!(ok.new_events.len(), 2);
    assert_eq!(db.count("burns").await, 1);
    assert_eq!(db.count("relay_counters").await, 1);
    assert_eq!(
        db.store.all_cursors().await.expect("cursors"),
        vec![good_cursor]
    );
}

pub async fn text_with_nul_does_not_poison_a_batch(db: &TestDb) {
    let mint = Keys::generate();
    let key = mint_key(&mint);
    let alice = Keys::generate();
    let r = review(&alice, &key, 3.0, "a\0b", 10);
    db.store.write_batch(&batch(vec![r])).await.expect("write");
    let page = mintwatch_store::read::reviews_page(db.store.pool(), &key, None, None)
        .await
        .expect("reviews");
    assert_eq!(page.reviews.len(), 1);
    assert_eq!(page.reviews[0].text, "ab");
}

pub async fn mint_identity_follows_the_live_11467(db: &TestDb) {
    let mint = Keys::generate();
    let key = mint_key(&mint);
    let mut own = [2u8; 33];
    own[1..].copy_from_slice(key.as_bytes());
    let own = Point::from_bytes(&own).expect("the signer's key as a compressed point");
    let row = || async {
        mint_cores(&db.store, Some(&[key]))
            .await
            .expect("core")
            .pop()
            .expect("listed")
    };

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
    assert_eq!(row().await.identity, IdentityLevel::Operator.as_str());
    db.store
        .write_batch(&batch(vec![mint_info(&mint, own, "Own name", 20)]))
        .await
        .expect("write");
    let r = row().await;
    assert_eq!(r.identity, IdentityLevel::SelfSigned.as_str());
    assert_eq!(r.info.name.as_deref(), Some("Own name"));
    assert_eq!(r.urls, vec!["https://info.example".to_string()]);
    assert_eq!(r.info.units, vec!["sat".to_string(), "usd".to_string()]);
    assert_eq!(
        r.info.network.as_deref(),
        Some("mainnet"),
        "from the announcement"
    );

    // A newer 11467 whose content key is another key: mismatch.
    db.store
        .write_batch(&batch(vec![mint_info(&mint, random_point(), "Other", 30)]))
        .await
        .expect("write");
    assert_eq!(row().await.identity, IdentityLevel::Mismatch.as_str());

    // The directory search finds it by a word of its name and by a fragment of its URL.
    for text in ["other", "nfo.exam"] {
        let q = DirectoryQuery {
            q: Some(text.to_string()),
            ..DirectoryQuery::default()
        };
        let page = search_mints(db.store.pool(), &q).await.expect("search");
        assert_eq!(page.mints.len(), 1, "{text}");
        assert_eq!(page.mints[0].key, key.to_hex());
    }
}

pub async fn mint_keys_list_the_directory(db: &TestDb) {
    assert!(db.store.mint_keys().await.expect("keys").is_empty());
    let (a, b) = (Keys::generate(), Keys::generate());
    let reviewer = Keys::generate();
    let invented = mint_key(&Keys::generate());
    db.store
        .write_batch(&batch(vec![
            fin_epoch(&a, 0, 0, 1),
            announcement(&b, &mint_key(&b), "https://b.example", "B", 2),
            // A review of a key does not list it: anyone can invent keys to review.
            review(&reviewer, &invented, 5.0, "?", 3),
        ]))
        .await
        .expect("write");
    let mut want = vec![mint_key(&a), mint_key(&b)];
    want.sort();
    assert_eq!(db.store.mint_keys().await.expect("keys"), want);
}

pub async fn mint_exists_only_for_listed_mints(db: &TestDb) {
    let mint = Keys::generate();
    let key = mint_key(&mint);
    assert!(!db.store.mint_exists(&key).await.expect("exists"));
    db.store
        .write_batch(&batch(vec![fin_epoch(&mint, 0, 0, 1)]))
        .await
        .expect("write");
    assert!(db.store.mint_exists(&key).await.expect("exists"));
    assert!(!db
        .store
        .mint_exists(&mint_key(&Keys::generate()))
        .await
        .expect("exists"));
}

pub async fn event_json_is_the_event_as_received(db: &TestDb) {
    let mint = Keys::generate();
    let e = fin_epoch(&mint, 3, 9, 42);
    let (id, json) = (e.event.id, e.json.to_string());
    db.store.write_batch(&batch(vec![e])).await.expect("write");
    assert_eq!(
        db.store.event_json(&id).await.expect("json").as_deref(),
        Some(json.as_str())
    );
    assert_eq!(
        db.store.event_json(&EventId([1; 32])).await.expect("json"),
        None
    );
}
