//! Faults, through the real binary (issue 12): a crash at each point where work could be lost,
//! analysis that fails once or for good, PostgreSQL stopped in the middle of a backfill. After
//! each, what the indexer serves must equal what an uninterrupted run of the same corpus serves:
//! every mint's whole report, every open finding, every burn and review.
//!
//! The crashes come from `MINTWATCH_FAULT` (`indexer/src/fault.rs`), which aborts the process at
//! an exact point, as `kill -9` would there; each test asserts the crash came before ingest
//! finished and left the analysis queue holding what it must recover.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::indexer_run::{count, listen_of, readyz, served, settled, start};

use mintwatch_indexer::fault::FAULT_ENV;
use mintwatch_sim::{SimConfig, Simulation, Simulator};
use mintwatch_testkit::{
    acceptable, ensure_database, small_simulation, wait_for, OwnPostgres, TestDb, TestRelay, AS_OF,
};

/// A corpus on a relay, how many of its events must be stored, and what an uninterrupted run
/// of it serves.
struct Reference {
    relay: TestRelay,
    events: i64,
    served: BTreeMap<String, serde_json::Value>,
}

async fn reference() -> Reference {
    let sim = small_simulation(12);
    let relay = TestRelay::start(None).await;
    relay.store(&sim.events).await;
    Reference::of(relay, &sim, &[]).await
}

impl Reference {
    /// What an uninterrupted run of `relay` (serving `sim`) serves, with `env` added.
    async fn of(relay: TestRelay, sim: &Simulation, env: &[(&str, &str)]) -> Reference {
        let events = acceptable(&[&relay], sim).await.len() as i64;
        let db = TestDb::new().await;
        let mut run = start(&relay.url, &db.url, env);
        let listen = listen_of(&run);
        assert!(settled(&db.url, &listen, events).await, "{}", run.output());
        let served = served(&db.url, &listen).await;
        assert!(run.terminate(Duration::from_secs(30)), "no clean exit");
        assert!(
            served.len() > 10,
            "the corpus gives mints to compare: {served:?}"
        );
        assert!(
            served["findings"].as_array().is_some_and(|f| !f.is_empty()),
            "the corpus has findings to lose"
        );
        db.drop().await;
        Reference {
            relay,
            events,
            served,
        }
    }
}

/// Runs with `fault` until the process aborts itself, checks what the crash left, restarts
/// without it and compares everything served with the reference.
async fn crash_and_recover(reference: &Reference, fault: &str, left_queued: &str) {
    let db = TestDb::new().await;
    let mut crashing = start(&reference.relay.url, &db.url, &[(FAULT_ENV, fault)]);
    let status = crashing
        .wait_exit(Duration::from_secs(120))
        .unwrap_or_else(|| panic!("{fault}: no crash; output:\n{}", crashing.output()));
    assert!(!status.success(), "{fault}: the process aborted");
    let stored = db.count("events").await;
    assert!(
        stored < reference.events,
        "{fault}: the crash came after ingest finished ({stored} of {})",
        reference.events
    );
    let queued = count(&db.url, left_queued).await;
    assert!(
        queued > 0,
        "{fault}: the crash left nothing in the analysis queue ({left_queued})"
    );

    let mut run = start(&reference.relay.url, &db.url, &[]);
    let listen = listen_of(&run);
    assert!(
        settled(&db.url, &listen, reference.events).await,
        "{fault}: not settled after the restart:\n{}",
        run.output()
    );
    let served = served(&db.url, &listen).await;
    assert!(run.terminate(Duration::from_secs(30)), "no clean exit");
    assert_eq!(db.count("events").await, reference.events);
    for (what, want) in &reference.served {
        assert_eq!(
            served.get(what),
            Some(want),
            "{fault}: {what} differs from an uninterrupted run"
        );
    }
    assert_eq!(served.len(), reference.served.len());
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_a_commit_or_after_an_analysis_loses_no_finding() {
    let reference = reference().await;
    // Killed between a batch's commit and its analysis: that batch is queued, not analysed.
    crash_and_recover(
        &reference,
        "abort-after-commit=3",
        "SELECT count(*) FROM analysis_queue WHERE NOT analysed",
    )
    .await;
    // Killed after a batch's findings, before its mints' ranks: analysed, ranks still due.
    crash_and_recover(
        &reference,
        "abort-after-analysis=2",
        "SELECT count(*) FROM analysis_queue WHERE analysed",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analysis_error_is_retried_once_and_fatal_when_it_lasts() {
    let reference = reference().await;

    // Fails once: retried, nothing lost, the process keeps running.
    let db = TestDb::new().await;
    let mut run = start(
        &reference.relay.url,
        &db.url,
        &[(FAULT_ENV, "analyze-error=1")],
    );
    let listen = listen_of(&run);
    assert!(
        settled(&db.url, &listen, reference.events).await,
        "{}",
        run.output()
    );
    assert!(
        run.output().contains("analysing a batch failed; retrying"),
        "the retry is logged:\n{}",
        run.output()
    );
    let served = served(&db.url, &listen).await;
    for (what, want) in &reference.served {
        assert_eq!(
            served.get(what),
            Some(want),
            "{what} differs after a retried analysis"
        );
    }
    let metrics = reqwest::get(format!("http://{listen}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("mintwatch_stage_retries_total{stage=\"analyze\"}")),
        "retries are counted"
    );
    assert!(run.terminate(Duration::from_secs(30)), "no clean exit");
    db.drop().await;

    // Fails for good: /readyz names the stage while it retries, then the process exits
    // non-zero and says why.
    let db = TestDb::new().await;
    let mut run = start(
        &reference.relay.url,
        &db.url,
        &[
            (FAULT_ENV, "analyze-error=forever"),
            ("MINTWATCH_RETRY_SECS", "4"),
        ],
    );
    let listen = listen_of(&run);
    let named = wait_for(Duration::from_secs(30), || async {
        let (status, body) = readyz(&listen).await;
        status == 503 && body.contains("analyze: analysing a batch failing")
    })
    .await;
    assert!(named, "/readyz: {:?}", readyz(&listen).await);
    let status = run
        .wait_exit(Duration::from_secs(60))
        .unwrap_or_else(|| panic!("still running:\n{}", run.output()));
    assert!(!status.success());
    assert!(
        run.output().contains("analysing a batch failed for"),
        "the cause is logged:\n{}",
        run.output()
    );
    db.drop().await;
}

/// A corpus about four times the small one, so that a backfill in batches of two events lasts
/// long enough to be interrupted.
fn longer_corpus() -> Simulation {
    Simulator::run(SimConfig {
        seed: 21,
        start_time: AS_OF - 86_400,
        honest_mints: 20,
        rounds: 12,
        ..SimConfig::default()
    })
    .expect("simulation")
}

/// Batches of two events: many commits, a long backfill.
const SLOW: [(&str, &str); 1] = [("MINTWATCH_BATCH_SIZE", "2")];

fn assert_same(reference: &Reference, served: &BTreeMap<String, serde_json::Value>, what: &str) {
    for (key, want) in &reference.served {
        assert_eq!(
            served.get(key),
            Some(want),
            "{what}: {key} differs from an uninterrupted run"
        );
    }
    assert_eq!(served.len(), reference.served.len(), "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_in_the_middle_of_a_backfill_loses_and_duplicates_nothing() {
    let sim = longer_corpus();
    let relay = TestRelay::start(None).await;
    relay.store(&sim.events).await;
    let reference = Reference::of(relay, &sim, &SLOW).await;

    let pg = OwnPostgres::start().expect("a PostgreSQL of the test's own");
    let url = pg.url("mintwatch");
    ensure_database(&url).await.expect("database");
    let mut run = start(&reference.relay.url, &url, &SLOW);
    let listen = listen_of(&run);
    assert!(
        wait_for(Duration::from_secs(60), || async {
            count(&url, "SELECT count(*) FROM events").await > 0
        })
        .await
    );
    let before = count(&url, "SELECT count(*) FROM events").await;
    pg.down().expect("stop PostgreSQL");
    assert!(
        before < reference.events,
        "PostgreSQL stopped after the backfill ({before} of {})",
        reference.events
    );
    // Down for 12 s (the outage is the point): /readyz answers 503, and names the stage that
    // retries once one does.
    let outage = Instant::now();
    let (mut unavailable, mut named) = (false, None);
    while outage.elapsed() < Duration::from_secs(12) {
        let (status, body) = readyz(&listen).await;
        if status == 503 {
            unavailable = true;
            if ["store:", "dedup:", "analyze:"]
                .iter()
                .any(|s| body.contains(s))
            {
                named = Some(body);
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(unavailable, "/readyz never said 503 during the outage");
    assert!(named.is_some(), "/readyz never named the retrying stage");
    assert!(
        run.wait_exit(Duration::ZERO).is_none(),
        "the process rode out the outage:\n{}",
        run.output()
    );
    pg.up().expect("start PostgreSQL again");
    assert!(
        settled(&url, &listen, reference.events).await,
        "not settled after the outage:\n{}",
        run.output()
    );
    assert_eq!(readyz(&listen).await.0, 200);
    let served = served(&url, &listen).await;
    assert!(run.terminate(Duration::from_secs(30)), "no clean exit");
    assert_eq!(
        count(&url, "SELECT count(*) FROM events").await,
        reference.events,
        "every event once"
    );
    assert_same(&reference, &served, "after a PostgreSQL outage");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_that_drops_in_the_middle_of_a_backfill_and_comes_back_loses_nothing() {
    let sim = longer_corpus();
    let relay = TestRelay::start(None).await;
    relay.store(&sim.events).await;
    let port: u16 = relay
        .url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let events = acceptable(&[&relay], &sim).await.len() as i64;
    let db = TestDb::new().await;
    let mut run = start(&relay.url, &db.url, &SLOW);
    let listen = listen_of(&run);
    assert!(
        wait_for(Duration::from_secs(60), || async {
            db.count("events").await > 0
        })
        .await
    );
    relay.shutdown();
    let at_drop = db.count("events").await;
    drop(relay);
    // The relay comes back on its port, with the same events.
    let deadline = Instant::now() + Duration::from_secs(10);
    let back = loop {
        match TestRelay::try_start(Some(port)).await {
            Ok(relay) => break relay,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("port {port} not free again: {e}"),
        }
    };
    back.store(&sim.events).await;
    assert!(
        settled(&db.url, &listen, events).await,
        "not settled after the relay came back:\n{}",
        run.output()
    );
    assert!(at_drop < events, "the relay dropped after the backfill");
    let stats: serde_json::Value = reqwest::get(format!("http://{listen}/v1/stats"))
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    let connects = stats["relays"]
        .as_array()
        .and_then(|relays| relays.iter().find(|r| r["relay"] == back.url.as_str()))
        .and_then(|r| r["live"]["connects"].as_u64())
        .unwrap_or(0);
    assert!(connects >= 2, "the crawl reconnected: {stats}");
    let served = served(&db.url, &listen).await;
    assert!(run.terminate(Duration::from_secs(30)), "no clean exit");
    assert_eq!(db.count("events").await, events, "every event once");
    db.drop().await;
    // What an uninterrupted run of the same relay serves.
    let reference = Reference::of(back, &sim, &SLOW).await;
    assert_same(&reference, &served, "after a relay dropped");
}
