//! The analyze stage's reads and writes: findings, burnt `Y`s, chains, sums, gaps, facts.

use std::collections::BTreeSet;
use std::time::Duration;

use mintwatch_protocol::{Epoch, EventId, FindingKind, MintKey};
use mintwatch_store::analysis::MintAnalysis;
use mintwatch_store::read::mint_cores;
use mintwatch_store::stats::{ChainStatus, MintStats, ReviewSummary};
use mintwatch_store::NewFinding;
use nostr::Keys;

use crate::support::*;

fn finding(mint: MintKey, kind: FindingKind, key: &str, ids: Vec<EventId>) -> NewFinding {
    NewFinding {
        mint,
        kind,
        key: key.to_string(),
        y: None,
        unit: Some(unit("sat")),
        epoch: Some(Epoch::new(0).expect("epoch")),
        event_ids: ids,
        detail: serde_json::json!({"count": 2}),
    }
}

async fn open_count(db: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM findings WHERE NOT resolved")
        .fetch_one(db.store.pool())
        .await
        .expect("query")
}

pub async fn upsert_findings_is_idempotent_per_key(db: &TestDb) {
    let key = mint_key(&Keys::generate());
    let y = random_point();
    let ds = |ids: Vec<EventId>| NewFinding {
        y: Some(y),
        ..finding(key, FindingKind::DoubleSpend, &y.to_hex(), ids)
    };
    let (a, b) = (EventId([1; 32]), EventId([2; 32]));
    assert_eq!(db.store.upsert_findings(&[]).await.expect("none"), 0);
    db.store
        .upsert_findings(&[ds(vec![b, a])])
        .await
        .expect("upsert");
    db.store
        .upsert_findings(&[ds(vec![a, b])])
        .await
        .expect("upsert");
    assert_eq!(db.count("findings").await, 1);
    db.store
        .upsert_findings(&[ds(vec![a, b, EventId([3; 32])])])
        .await
        .expect("upsert");
    let n: i32 = sqlx::query_scalar("SELECT cardinality(event_ids) FROM findings")
        .fetch_one(db.store.pool())
        .await
        .expect("query");
    assert_eq!(n, 3, "re-deriving updates the evidence in place");
    assert_eq!(db.count("findings").await, 1);
    // A resolved finding derived again is reopened.
    db.store
        .resolve_findings(FindingKind::DoubleSpend, &[(key, y.to_hex())])
        .await
        .expect("resolve");
    assert_eq!(open_count(db).await, 0);
    db.store
        .upsert_findings(&[ds(vec![a])])
        .await
        .expect("upsert");
    assert_eq!(open_count(db).await, 1);
}

pub async fn resolve_findings_resolves_only_the_named_ones(db: &TestDb) {
    let key = mint_key(&Keys::generate());
    db.store
        .upsert_findings(&[
            finding(key, FindingKind::LiabilityInversion, "sat:0", vec![]),
            finding(key, FindingKind::LiabilityInversion, "sat:1", vec![]),
            finding(key, FindingKind::BalanceMismatch, "sat:0", vec![]),
        ])
        .await
        .expect("upsert");
    let n = db
        .store
        .resolve_findings(
            FindingKind::LiabilityInversion,
            &[(key, "sat:0".into()), (key, "sat:9".into())],
        )
        .await
        .expect("resolve");
    assert_eq!(n, 1);
    assert_eq!(open_count(db).await, 2);
    // Resolving again resolves nothing more.
    let again = db
        .store
        .resolve_findings(FindingKind::LiabilityInversion, &[(key, "sat:0".into())])
        .await
        .expect("resolve");
    assert_eq!(again, 0);
    assert_eq!(
        db.store
            .resolve_findings(FindingKind::Fork, &[])
            .await
            .expect("none"),
        0
    );
}

pub async fn open_finding_counts_count_unresolved_by_kind(db: &TestDb) {
    let key = mint_key(&Keys::generate());
    db.store
        .upsert_findings(&[
            finding(key, FindingKind::Gap, "a", vec![]),
            finding(key, FindingKind::Gap, "b", vec![]),
            finding(key, FindingKind::Fork, "c", vec![]),
        ])
        .await
        .expect("upsert");
    db.store
        .resolve_findings(FindingKind::Fork, &[(key, "c".into())])
        .await
        .expect("resolve");
    assert_eq!(
        db.store.open_finding_counts().await.expect("counts"),
        vec![("gap".to_string(), 2)]
    );
}

pub async fn for_each_burnt_y_streams_every_burn(db: &TestDb) {
    let mint = Keys::generate();
    let ys = [random_point(), random_point(), random_point()];
    db.store
        .write_batch(&batch(vec![cashu_data(
            &mint,
            vec![burns(
                0,
                "sat",
                &[(ys[0], 1), (ys[1], 2), (ys[2], 3), (ys[0], 4)],
            )],
            None,
            1,
            RELAY_A,
        )]))
        .await
        .expect("write");
    let mut seen = Vec::new();
    let n = db
        .store
        .for_each_burnt_y(|y| seen.push(*y))
        .await
        .expect("stream");
    assert_eq!(n, 4);
    seen.sort();
    let mut want = vec![ys[0], ys[0], ys[1], ys[2]];
    want.sort();
    assert_eq!(seen, want);
}

pub async fn repeated_burns_list_every_entry_of_a_repeated_y(db: &TestDb) {
    let (a, b) = (Keys::generate(), Keys::generate());
    let (twice, across, once) = (random_point(), random_point(), random_point());
    let ea = cashu_data(
        &a,
        vec![burns(
            0,
            "sat",
            &[(twice, 1), (twice, 1), (across, 2), (once, 3)],
        )],
        None,
        1,
        RELAY_A,
    );
    let eb = cashu_data(&b, vec![burns(0, "sat", &[(across, 2)])], None, 2, RELAY_A);
    let (ida, idb) = (ea.event.id, eb.event.id);
    db.store
        .write_batch(&batch(vec![ea, eb]))
        .await
        .expect("write");
    assert!(db.store.repeated_burns(&[]).await.expect("none").is_empty());
    let rows = db
        .store
        .repeated_burns(&[twice, across, once])
        .await
        .expect("repeated");
    let mut want = vec![
        (twice, mint_key(&a), ida),
        (twice, mint_key(&a), ida),
        (across, mint_key(&a), ida),
        (across, mint_key(&b), idb),
    ];
    want.sort();
    assert_eq!(rows, want, "ordered by Y, mint and event; `once` left out");
}

pub async fn forks_are_two_children_of_one_prev(db: &TestDb) {
    let mint = Keys::generate();
    let root = cashu_data(&mint, vec![mints(0, "sat", &[1])], None, 1, RELAY_A);
    let c1 = cashu_data(
        &mint,
        vec![mints(0, "sat", &[2])],
        Some(root.event.id),
        2,
        RELAY_A,
    );
    let c2 = cashu_data(
        &mint,
        vec![mints(0, "sat", &[3])],
        Some(root.event.id),
        3,
        RELAY_A,
    );
    let straight = cashu_data(
        &mint,
        vec![mints(0, "sat", &[4])],
        Some(c1.event.id),
        4,
        RELAY_A,
    );
    let prevs: BTreeSet<EventId> = [root.event.id, c1.event.id].into();
    let mut children = vec![c1.event.id, c2.event.id];
    children.sort();
    let root_id = root.event.id;
    db.store
        .write_batch(&batch(vec![root, c1, c2, straight]))
        .await
        .expect("write");
    assert!(db
        .store
        .forks(&BTreeSet::new())
        .await
        .expect("none")
        .is_empty());
    let forks = db.store.forks(&prevs).await.expect("forks");
    assert_eq!(forks.len(), 1);
    assert_eq!(forks[0].mint, mint_key(&mint));
    assert_eq!(forks[0].prev, root_id);
    assert_eq!(forks[0].children, children);
}

/// A mint with two 4919s in (sat, 0) at times 10 and 20, one in (usd, 0), and a 1337 of
/// (sat, 0) at time 15 claiming `claimed`.
async fn two_events_and_a_close(db: &TestDb, claimed: u64) -> (MintKey, EventId, EventId, EventId) {
    let mint = Keys::generate();
    let e1 = cashu_data(
        &mint,
        vec![
            mints(0, "sat", &[64, 32]),
            burns(0, "sat", &[(random_point(), 8)]),
        ],
        None,
        10,
        RELAY_A,
    );
    let e2 = cashu_data(
        &mint,
        vec![burns(0, "sat", &[(random_point(), 16)])],
        None,
        20,
        RELAY_A,
    );
    let e3 = cashu_data(&mint, vec![mints(0, "usd", &[5])], None, 30, RELAY_A);
    let close = fin_epoch(&mint, 0, claimed, 15);
    let ids = (e1.event.id, e2.event.id, close.event.id);
    db.store
        .write_batch(&batch(vec![e1, e2, e3, close]))
        .await
        .expect("write");
    (mint_key(&mint), ids.0, ids.1, ids.2)
}

pub async fn group_events_follow_unit_epoch_and_time(db: &TestDb) {
    let (key, e1, e2, _) = two_events_and_a_close(db, 0).await;
    let epoch = Epoch::new(0).expect("epoch");
    let mut both = vec![e1, e2];
    both.sort();
    assert_eq!(
        db.store
            .group_events(&key, &unit("sat"), epoch, None)
            .await
            .expect("events"),
        both
    );
    assert_eq!(
        db.store
            .group_events(&key, &unit("sat"), epoch, Some(15))
            .await
            .expect("events"),
        vec![e1]
    );
    assert!(db
        .store
        .group_events(&key, &unit("eur"), epoch, None)
        .await
        .expect("events")
        .is_empty());
}

pub async fn group_sums_add_burns_and_mints(db: &TestDb) {
    let (key, ..) = two_events_and_a_close(db, 0).await;
    let epoch = Epoch::new(0).expect("epoch");
    let groups: BTreeSet<_> = [
        (key, unit("sat"), epoch),
        (key, unit("usd"), epoch),
        (key, unit("eur"), epoch),
    ]
    .into();
    assert!(db
        .store
        .group_sums(&BTreeSet::new())
        .await
        .expect("none")
        .is_empty());
    let mut sums: Vec<_> = db
        .store
        .group_sums(&groups)
        .await
        .expect("sums")
        .into_iter()
        .map(|s| {
            (
                s.mint,
                s.unit.as_str().to_string(),
                s.epoch.get(),
                s.burnt,
                s.minted,
            )
        })
        .collect();
    sums.sort();
    assert_eq!(
        sums,
        vec![
            (key, "sat".to_string(), 0, 24, 96),
            (key, "usd".to_string(), 0, 0, 5),
        ]
    );
}

pub async fn epoch_closes_sum_the_events_up_to_the_close(db: &TestDb) {
    let (key, _, _, close) = two_events_and_a_close(db, 88).await;
    let groups: BTreeSet<_> = [(key, unit("sat"), Epoch::new(0).expect("epoch"))].into();
    let closes = db.store.epoch_closes(&groups).await.expect("closes");
    assert_eq!(closes.len(), 1);
    let c = &closes[0];
    assert_eq!((c.event_id, c.mint, c.created_at), (close, key, 15));
    // Only the 4919 at time 10 is at or before the close.
    assert_eq!((c.claimed, c.minted, c.burnt), (88, 96, 8));
    assert!(db
        .store
        .epoch_closes(&BTreeSet::new())
        .await
        .expect("none")
        .is_empty());
}

pub async fn gaps_are_listed_after_grace_and_resolved_when_filled(db: &TestDb) {
    let mint = Keys::generate();
    let key = mint_key(&mint);
    let missing = cashu_data(&mint, vec![mints(0, "sat", &[1])], None, 1, RELAY_A);
    let child = cashu_data(
        &mint,
        vec![mints(0, "sat", &[2])],
        Some(missing.event.id),
        2,
        RELAY_A,
    );
    let child_id = child.event.id;
    db.store
        .write_batch(&batch(vec![child]))
        .await
        .expect("write");
    // Within the grace period: no gap yet.
    assert!(db
        .store
        .unrecorded_gaps(Duration::from_secs(3_600))
        .await
        .expect("gaps")
        .is_empty());
    let gaps = db
        .store
        .unrecorded_gaps(Duration::ZERO)
        .await
        .expect("gaps");
    assert_eq!(gaps.len(), 1);
    assert_eq!((gaps[0].event_id, gaps[0].mint), (child_id, key));
    assert_eq!(gaps[0].missing, missing.event.id.0.to_vec());
    // Recorded, it is no longer listed.
    db.store
        .upsert_findings(&[NewFinding {
            unit: None,
            epoch: None,
            ..finding(key, FindingKind::Gap, &child_id.to_hex(), vec![child_id])
        }])
        .await
        .expect("record");
    assert!(db
        .store
        .unrecorded_gaps(Duration::ZERO)
        .await
        .expect("gaps")
        .is_empty());
    assert!(db
        .store
        .resolve_filled_gaps()
        .await
        .expect("none yet")
        .is_empty());
    // The missing event arrives: the gap resolves, once.
    db.store
        .write_batch(&batch(vec![missing]))
        .await
        .expect("write");
    assert_eq!(
        db.store.resolve_filled_gaps().await.expect("resolve"),
        vec![key]
    );
    assert!(db
        .store
        .resolve_filled_gaps()
        .await
        .expect("again")
        .is_empty());
    assert_eq!(open_count(db).await, 0);
}

pub async fn mints_by_identity_count_each_level(db: &TestDb) {
    let (a, b, c) = (Keys::generate(), Keys::generate(), Keys::generate());
    db.store
        .write_batch(&batch(vec![
            fin_epoch(&a, 0, 0, 1),
            fin_epoch(&b, 0, 0, 1),
            announcement(&c, &mint_key(&c), "https://c.example", "C", 1),
        ]))
        .await
        .expect("write");
    let mut levels = db.store.mints_by_identity().await.expect("levels");
    levels.sort();
    assert_eq!(
        levels,
        vec![("self-signed".to_string(), 1), ("unbound".to_string(), 2)]
    );
}

pub async fn mint_facts_gather_chain_reviews_and_findings(db: &TestDb) {
    let mint = Keys::generate();
    let key = mint_key(&mint);
    let e1 = cashu_data(&mint, vec![mints(0, "sat", &[1])], None, 100, RELAY_A);
    let e2 = cashu_data(
        &mint,
        vec![mints(0, "sat", &[2])],
        Some(e1.event.id),
        160,
        RELAY_A,
    );
    let head = e2.event.id;
    let (alice, bob) = (Keys::generate(), Keys::generate());
    db.store
        .write_batch(&batch(vec![
            e1,
            e2,
            fin_epoch(&mint, 0, 3, 170),
            announcement(&mint, &key, "https://m.example", "M", 90),
            review(&alice, &key, 4.0, "good", 200),
            review(&bob, &key, 2.0, "meh", 210),
        ]))
        .await
        .expect("write");
    db.store
        .upsert_findings(&[finding(key, FindingKind::Fork, "x", vec![])])
        .await
        .expect("finding");
    let unknown = mint_key(&Keys::generate());
    let facts = db
        .store
        .mint_facts(&[key, unknown].into())
        .await
        .expect("facts");
    assert_eq!(facts.len(), 1, "mints not in the directory are left out");
    let f = &facts[&key];
    assert_eq!(
        (f.info_match, f.self_announced, f.operator_announced),
        (None, true, false)
    );
    assert_eq!(f.last_seen, Some(170));
    assert_eq!((f.chain_events, f.chain_linked, f.chain_starts), (2, 1, 1));
    assert_eq!((f.first_4919, f.last_4919), (Some(100), Some(160)));
    assert_eq!(f.head, Some(head.to_hex()));
    assert_eq!(f.median_interval, Some(60.0));
    assert_eq!(f.epoch_closes, 1);
    assert_eq!(
        (f.reviews, f.review_authors, f.rated, f.rated_authors),
        (2, 2, 2, 2)
    );
    assert_eq!(f.mean_rating, Some(3.0));
    assert_eq!(f.findings.get(&FindingKind::Fork), Some(&1));
}

pub async fn mint_analyses_round_trip_their_stats(db: &TestDb) {
    let mint = Keys::generate();
    let key = mint_key(&mint);
    db.store
        .write_batch(&batch(vec![fin_epoch(&mint, 0, 0, 1)]))
        .await
        .expect("write");
    let stats = MintStats {
        chain: ChainStatus {
            head: Some("ab".repeat(32)),
            length: 3,
            links: 2,
            unlinked_starts: 1,
            first: Some(10),
            last: Some(30),
            median_interval_secs: Some(10.0),
        },
        epoch_closes: 1,
        reviews: ReviewSummary {
            count: 4,
            distinct_authors: 3,
            rated: 2,
            mean_rating: Some(4.5),
            bayesian: Some(4.5 * 3f64.log10()),
        },
        findings: FindingKind::ALL
            .iter()
            .map(|k| (k.as_str().to_string(), u64::from(*k == FindingKind::Gap)))
            .collect(),
        findings_total: 1,
    };
    db.store
        .write_mint_analyses(&[MintAnalysis {
            key,
            identity: "operator".to_string(),
            rank: 42.0,
            components: serde_json::json!({"identity": 1.0}),
            stats: stats.clone(),
        }])
        .await
        .expect("write analysis");
    let core = mint_cores(&db.store, Some(&[key]))
        .await
        .expect("core")
        .pop()
        .expect("listed");
    assert_eq!(core.identity, "operator");
    assert_eq!(core.rank, Some(42.0));
    assert_eq!(core.rank_components, serde_json::json!({"identity": 1.0}));
    assert_eq!(
        (core.chain, core.reviews, core.epoch_closes),
        (stats.chain, stats.reviews, 1)
    );
    // The directory's sort columns follow the statistics.
    let (findings, reviews): (i64, i64) =
        sqlx::query_as("SELECT finding_count, review_count FROM mints WHERE key = $1")
            .bind(key.as_bytes().to_vec())
            .fetch_one(db.store.pool())
            .await
            .expect("row");
    assert_eq!((findings, reviews), (1, 4));
}
