//! End to end: simulated mints publish to real in-process relays, the indexer crawls them into a
//! real PostgreSQL, and what it finds is compared with what the simulator knows it made.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use sqlx::Row;

use mintwatch_indexer::service::{IndexerConfig, RunningIndexer};
use mintwatch_protocol::{EventId, FindingKind, MintKey};
use mintwatch_sim::{RejectReason, Simulation};
use mintwatch_testkit::{
    acceptable, index_simulation, indexer_config, small_simulation, wait_for, TestDb, TestRelay,
    AS_OF,
};

/// (finding, mint, proving events).
type FindingSet = BTreeSet<(FindingKind, MintKey, BTreeSet<EventId>)>;

fn simulation(seed: u64) -> Simulation {
    small_simulation(seed)
}

fn config(relays: Vec<String>) -> IndexerConfig {
    indexer_config(relays, AS_OF)
}

/// Runs the indexer until every acceptable event is stored, then stops it and finishes the
/// analysis (the gap sweep and a full refresh, as `mintwatch` does on a timer).
async fn index(db: &TestDb, relays: &[&TestRelay], sim: &Simulation) {
    index_simulation(db, relays, sim).await;
}

async fn findings(db: &TestDb) -> FindingSet {
    let rows = sqlx::query("SELECT kind, mint, event_ids FROM findings WHERE NOT resolved")
        .fetch_all(db.store.pool())
        .await
        .expect("findings");
    rows.iter()
        .map(|r| {
            let kind: String = r.get("kind");
            let mint: Vec<u8> = r.get("mint");
            let ids: Vec<Vec<u8>> = r.get("event_ids");
            (
                kind.parse().expect("finding name"),
                MintKey::from_x_only_bytes(mint.try_into().expect("32 bytes")).expect("key"),
                ids.into_iter()
                    .map(|i| EventId(i.try_into().expect("32 bytes")))
                    .collect(),
            )
        })
        .collect()
}

fn expected(sim: &Simulation) -> FindingSet {
    sim.expected
        .iter()
        .map(|f| (f.kind, f.mint, f.events.clone()))
        .collect()
}

async fn ranks(db: &TestDb) -> BTreeMap<Vec<u8>, (Option<f32>, String, serde_json::Value)> {
    sqlx::query("SELECT key, rank, identity, stats FROM mints")
        .fetch_all(db.store.pool())
        .await
        .expect("mints")
        .iter()
        .map(|r| {
            (
                r.get("key"),
                (r.get("rank"), r.get("identity"), r.get("stats")),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_finding_is_found_with_exactly_its_proving_events() {
    let sim = simulation(7);
    let relay = TestRelay::start(None).await;
    relay.store(&sim.events).await;
    let db = TestDb::new().await;
    index(&db, &[&relay], &sim).await;

    let found = findings(&db).await;
    let want = expected(&sim);
    assert_eq!(found, want, "findings differ from the simulator's truth");
    for kind in FindingKind::ALL {
        assert!(found.iter().any(|f| f.0 == kind), "no {kind} found");
    }
    // Honest mints have none.
    let accused: BTreeSet<MintKey> = found.iter().map(|f| f.1).collect();
    for (key, stats) in &sim.stats {
        if !stats.role.expects_findings() {
            assert!(!accused.contains(key), "honest mint {key} has a finding");
        }
    }
    // The stored totals are the simulator's.
    let burns: u64 = sim
        .stats
        .values()
        .flat_map(|s| s.groups.values())
        .map(|t| t.burn_count)
        .sum();
    assert_eq!(db.count("burns").await as u64, burns);
    assert_eq!(
        db.count("events").await,
        acceptable(&[&relay], &sim).await.len() as i64
    );

    // Forged and malformed events were refused, and counted for this relay with their reason.
    let stored = mintwatch_store::read::store_stats(&db.store)
        .await
        .expect("stats");
    let counters = &stored
        .relays
        .iter()
        .find(|r| r.relay == relay.url)
        .expect("the relay is known")
        .refused;
    let counted = |reason: &str| -> u64 {
        counters
            .iter()
            .filter(|c| c.reason == reason)
            .map(|c| c.count)
            .sum()
    };
    let wanted = |r: RejectReason| sim.rejects.iter().filter(|x| x.reason == r).count() as u64;
    assert_eq!(counted("bad_signature"), wanted(RejectReason::BadSignature));
    assert_eq!(
        counted("id_mismatch"),
        wanted(RejectReason::ContentChangedAfterSigning)
    );
    assert_eq!(
        counted("malformed") + counted("not_on_curve"),
        wanted(RejectReason::BadBase64) + wanted(RejectReason::OffCurvePoint)
    );
    for reject in &sim.rejects {
        let stored = db.store.event_json(&reject.id).await.expect("lookup");
        assert!(stored.is_none(), "rejected event {} was stored", reject.id);
    }
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_events_split_across_relays_in_any_order_give_the_same_results() {
    let sim = simulation(11);
    let single = TestRelay::start(None).await;
    single.store(&sim.events).await;
    let db1 = TestDb::new().await;
    index(&db1, &[&single], &sim).await;

    // Reverse the order and deal the events to two relays, each event on one or both.
    let mut events = sim.events.clone();
    events.reverse();
    let (a, b) = (TestRelay::start(None).await, TestRelay::start(None).await);
    for (i, e) in events.iter().enumerate() {
        match i % 3 {
            0 => a.store(std::slice::from_ref(e)).await,
            1 => b.store(std::slice::from_ref(e)).await,
            _ => {
                a.store(std::slice::from_ref(e)).await;
                b.store(std::slice::from_ref(e)).await;
            }
        }
    }
    let db2 = TestDb::new().await;
    index(&db2, &[&a, &b], &sim).await;

    assert_eq!(findings(&db1).await, findings(&db2).await);
    assert_eq!(ranks(&db1).await, ranks(&db2).await);
    assert_eq!(db1.count("burns").await, db2.count("burns").await);
    db1.drop().await;
    db2.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_of_ingest_loses_and_duplicates_nothing() {
    let sim = simulation(13);
    let relay = TestRelay::start(None).await;
    relay.store(&sim.events).await;
    let db = TestDb::new().await;
    let total = acceptable(&[&relay], &sim).await.len() as i64;

    // Slow the crawl down so the stop lands in the middle.
    let mut cfg = config(vec![relay.url.clone()]);
    cfg.crawl.page_size = 10;
    cfg.crawl.max_events_per_sec = 100;
    cfg.crawl.burst = 10;
    let first = RunningIndexer::start(db.store.clone(), cfg.clone())
        .await
        .expect("start");
    assert!(
        wait_for(Duration::from_secs(60), || async {
            db.count("events").await > 0
        })
        .await,
        "nothing stored"
    );
    first.stop().await.expect("clean stop");
    let partial = db.count("events").await;
    assert!(
        partial < total,
        "the stop came too late to test a restart ({partial}/{total})"
    );
    assert!(
        db.count("relay_cursors").await > 0,
        "no cursor was committed with the events"
    );

    index(&db, &[&relay], &sim).await;
    assert_eq!(db.count("events").await, total, "events lost or duplicated");
    assert_eq!(db.duplicate_burns().await, 0, "burns stored twice");
    assert_eq!(findings(&db).await, expected(&sim));
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_waits_for_its_grace_period_and_is_resolved_when_the_missing_event_arrives() {
    let sim = simulation(17);
    // Hold back one honest 4919 that a later 4919 of the same mint names.
    let honest: BTreeSet<MintKey> = sim
        .stats
        .iter()
        .filter(|(_, s)| !s.role.expects_findings())
        .map(|(k, _)| *k)
        .collect();
    let held = sim
        .events
        .iter()
        .filter(|e| e.kind == 4919)
        .filter(|e| honest.contains(&MintKey::from_x_only_bytes(e.pubkey).expect("key")))
        .find(|parent| {
            sim.events
                .iter()
                .any(|c| c.kind == 4919 && c.tag_value("e") == Some(parent.id.to_hex().as_str()))
        })
        .cloned()
        .expect("an honest 4919 with a child");
    let held_mint = MintKey::from_x_only_bytes(held.pubkey).expect("key");
    let rest: Vec<_> = sim
        .events
        .iter()
        .filter(|e| e.id != held.id)
        .cloned()
        .collect();
    let relay = TestRelay::start(None).await;
    relay.store(&rest).await;
    let gaps_of = |db: &TestDb| {
        let pool = db.store.pool().clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM findings WHERE kind = 'gap' AND NOT resolved AND mint = $1",
            )
            .bind(held_mint.as_bytes().to_vec())
            .fetch_one(&pool)
            .await
            .expect("gaps")
        }
    };

    // With the default grace period (an hour) the dangling `e` is not yet a gap.
    let db = TestDb::new().await;
    let mut cfg = config(vec![relay.url.clone()]);
    cfg.analyze.gap_grace = Duration::from_secs(3600);
    let indexer = RunningIndexer::start(db.store.clone(), cfg)
        .await
        .expect("start");
    let want = acceptable(&[&relay], &sim).await.len() as i64;
    assert!(
        wait_for(Duration::from_secs(60), || async {
            db.count("events").await >= want
        })
        .await
    );
    indexer.stop().await.expect("stop");
    assert_eq!(gaps_of(&db).await, 0, "a gap before its grace period");
    db.drop().await;

    // With no grace period it is one; when the missing event arrives (here from a relay added
    // to the configuration), it is resolved.
    let db = TestDb::new().await;
    let indexer = RunningIndexer::start(db.store.clone(), config(vec![relay.url.clone()]))
        .await
        .expect("start");
    assert!(
        wait_for(Duration::from_secs(60), || async {
            gaps_of(&db).await == 1
        })
        .await,
        "the gap was not found"
    );
    indexer.stop().await.expect("stop");
    let other = TestRelay::start(None).await;
    other.store(std::slice::from_ref(&held)).await;
    let indexer = RunningIndexer::start(
        db.store.clone(),
        config(vec![relay.url.clone(), other.url.clone()]),
    )
    .await
    .expect("restart");
    assert!(
        wait_for(Duration::from_secs(60), || async {
            gaps_of(&db).await == 0
        })
        .await,
        "the gap was not resolved when its event arrived"
    );
    indexer.stop().await.expect("stop");
    let child = sim
        .events
        .iter()
        .find(|c| c.kind == 4919 && c.tag_value("e") == Some(held.id.to_hex().as_str()))
        .expect("child");
    let resolved: bool = sqlx::query_scalar(
        "SELECT resolved FROM findings WHERE kind = 'gap' AND mint = $1 AND finding_key = $2",
    )
    .bind(held_mint.as_bytes().to_vec())
    .bind(child.id.to_hex())
    .fetch_one(db.store.pool())
    .await
    .expect("the gap of the child is recorded");
    assert!(resolved, "the gap of the child is resolved");
    db.drop().await;
}
