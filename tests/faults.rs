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
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{log_field, Running};
use sqlx::Row;

use mintwatch_indexer::fault::FAULT_ENV;
use mintwatch_sim::{SimConfig, Simulation, Simulator};
use mintwatch_testkit::{
    acceptable, ensure_database, small_simulation, wait_for, OwnPostgres, TestDb, TestRelay, AS_OF,
};

/// Events per batch: small, so the corpus is many batches and a crash lands in the middle.
const BATCH: &str = "8";

/// `mintwatch run` against `relay` and `db`, with `env` added; logs on stdout (collected).
fn start(relay: &TestRelay, database_url: &str, env: &[(&str, &str)]) -> Running {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mintwatch"));
    for var in ["MINTWATCH_CONFIG", "MINTWATCH_KEY_FILE", FAULT_ENV] {
        command.env_remove(var);
    }
    command
        .arg("run")
        .env("MINTWATCH_RELAYS", &relay.url)
        .env("DATABASE_URL", database_url)
        .env("MINTWATCH_LISTEN", "127.0.0.1:0")
        .env("MINTWATCH_BATCH_SIZE", BATCH)
        .env("MINTWATCH_RANK_AS_OF", AS_OF.to_string())
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .stderr(Stdio::null());
    Running::spawn("mintwatch run", command)
}

/// The address the API listens on, from the start line.
fn listen_of(run: &Running) -> String {
    let line = run.wait_for_line(Duration::from_secs(60), |l| l.contains("mintwatch running"));
    log_field(&line, "listen")
        .expect("the log names the bound address")
        .to_string()
}

async fn count(url: &str, sql: &str) -> i64 {
    let pool = sqlx::PgPool::connect(url).await.expect("connect");
    let n: i64 = sqlx::query_scalar(sql)
        .fetch_one(&pool)
        .await
        .expect("count");
    pool.close().await;
    n
}

async fn readyz(listen: &str) -> (u16, String) {
    match reqwest::get(format!("http://{listen}/readyz")).await {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
        Err(e) => (0, e.to_string()),
    }
}

/// Waits until every acceptable event is stored, the analysis queue is empty (every batch
/// analysed and its mints ranked) and `/readyz` says ready.
async fn settled(url: &str, listen: &str, events: i64) -> bool {
    wait_for(Duration::from_secs(120), || async {
        count(url, "SELECT count(*) FROM events").await >= events
            && count(url, "SELECT count(*) FROM analysis_queue").await == 0
            && readyz(listen).await.0 == 200
    })
    .await
}

/// Fields that say when this process did something, or in which order it numbered its rows, not
/// what the data is.
const WHEN: [&str; 4] = ["ranked_at", "updated_at", "first_found", "received_at"];

/// `value` without [`WHEN`], and with only the open findings of a findings page, without their
/// row ids: a resolved finding records a state that held between two batches (a liability
/// inversion before the mint's next 4919 arrived), which depends on where batches happened to
/// split, not on the events; what stays open is a function of the events alone.
fn stable(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|k, _| !WHEN.contains(&k.as_str()));
            if let Some(serde_json::Value::Array(findings)) = map.get_mut("findings") {
                findings.retain(|f| f.get("resolved") != Some(&serde_json::Value::Bool(true)));
                for f in findings.iter_mut() {
                    if let Some(f) = f.as_object_mut() {
                        f.remove("id");
                    }
                }
            }
            map.values_mut().for_each(stable);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(stable),
        _ => {}
    }
}

/// Everything the indexer serves about the corpus: each mint's whole report and open findings
/// as the API answers them, and the stored burns, reviews and open findings.
async fn served(url: &str, listen: &str) -> BTreeMap<String, serde_json::Value> {
    let pool = sqlx::PgPool::connect(url).await.expect("connect");
    let keys: Vec<String> = sqlx::query_scalar("SELECT encode(key, 'hex') FROM mints ORDER BY key")
        .fetch_all(&pool)
        .await
        .expect("mints");
    let mut out = BTreeMap::new();
    let http = reqwest::Client::new();
    for key in keys {
        for path in [
            format!("v1/mints/{key}"),
            format!("v1/mints/{key}/findings?limit=200"),
        ] {
            let response = http
                .get(format!("http://{listen}/{path}"))
                .send()
                .await
                .expect("request");
            assert_eq!(response.status(), 200, "{path}");
            let mut body: serde_json::Value = response.json().await.expect("json");
            stable(&mut body);
            out.insert(path, body);
        }
    }
    let findings = sqlx::query(
        "SELECT encode(mint, 'hex') AS mint, kind, finding_key, event_ids, detail::text AS detail
         FROM findings WHERE NOT resolved ORDER BY mint, kind, finding_key",
    )
    .fetch_all(&pool)
    .await
    .expect("findings");
    let findings: Vec<String> = findings
        .iter()
        .map(|r| {
            let ids: Vec<Vec<u8>> = r.get("event_ids");
            format!(
                "{} {} {} {} {}",
                r.get::<String, _>("mint"),
                r.get::<String, _>("kind"),
                r.get::<String, _>("finding_key"),
                ids.iter().map(hex::encode).collect::<Vec<_>>().join(","),
                r.get::<String, _>("detail"),
            )
        })
        .collect();
    out.insert("findings".into(), serde_json::json!(findings));
    for (name, sql) in [
        ("burns", "SELECT count(*) FROM burns"),
        ("issued", "SELECT count(*) FROM issued"),
        ("reviews", "SELECT count(*) FROM reviews"),
        (
            "duplicate burns",
            "SELECT count(*) FROM (SELECT event_id, pos FROM burns GROUP BY 1, 2
             HAVING count(*) > 1) d",
        ),
    ] {
        let n: i64 = sqlx::query_scalar(sql)
            .fetch_one(&pool)
            .await
            .expect("count");
        out.insert(name.into(), serde_json::json!(n));
    }
    pool.close().await;
    out
}

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
        let mut run = start(&relay, &db.url, env);
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
    let mut crashing = start(&reference.relay, &db.url, &[(FAULT_ENV, fault)]);
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

    let mut run = start(&reference.relay, &db.url, &[]);
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
    let mut run = start(&reference.relay, &db.url, &[(FAULT_ENV, "analyze-error=1")]);
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
        &reference.relay,
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
    let mut run = start(&reference.relay, &url, &SLOW);
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
    let mut run = start(&relay, &db.url, &SLOW);
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
