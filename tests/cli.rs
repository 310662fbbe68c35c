//! The `mintwatch` binary as an operator runs it: flags from the environment, migrations on
//! start, graceful shutdown on SIGTERM with everything delivered stored.

use std::process::{Command, Stdio};
use std::time::Duration;

use mintwatch_indexer::testing::{wait_for, TestDb, TestRelay};
use mintwatch_protocol::simulate::{SimConfig, Simulator};

fn mintwatch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mintwatch"))
}

#[test]
fn run_without_relays_is_refused_with_a_clear_message() {
    let out = mintwatch()
        .arg("run")
        .env_remove("MINTWATCH_RELAYS")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--relay"));
}

#[test]
fn migrate_reports_an_unreachable_database_and_fails() {
    let out = mintwatch()
        .arg("migrate")
        .env(
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/mw_no_such_database",
        )
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot connect to the database"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_indexes_relays_from_the_environment_and_stops_cleanly_on_sigterm() {
    let sim = Simulator::run(SimConfig {
        honest_mints: 2,
        rounds: 3,
        ..SimConfig::default()
    })
    .expect("simulation");
    let relay = TestRelay::start(None).await;
    relay.store(&sim.events).await;
    let served = relay.served_ids().await.len() - sim.rejects.len();
    let db = TestDb::new().await;
    let mut child = mintwatch()
        .arg("run")
        .env("MINTWATCH_RELAYS", &relay.url)
        .env("DATABASE_URL", &db.url)
        .env("MINTWATCH_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let all_in = wait_for(Duration::from_secs(60), || async {
        db.count("events").await >= served as i64
    })
    .await;
    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = child.wait().expect("exits");
    assert!(all_in, "not every served event was stored");
    assert!(status.success(), "exit status after SIGTERM: {status}");
    assert!(db.count("relay_cursors").await > 0);
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_in_the_middle_of_ingest_loses_and_duplicates_nothing() {
    let sim = Simulator::run(SimConfig {
        honest_mints: 12,
        rounds: 8,
        ..SimConfig::default()
    })
    .expect("simulation");
    let relay = TestRelay::start(None).await;
    relay.store(&sim.events).await;
    let served = (relay.served_ids().await.len() - sim.rejects.len()) as i64;
    let db = TestDb::new().await;
    let start = || {
        mintwatch()
            .arg("run")
            .env("MINTWATCH_RELAYS", &relay.url)
            .env("DATABASE_URL", &db.url)
            .env("MINTWATCH_LISTEN", "127.0.0.1:0")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starts")
    };
    let mut first = start();
    assert!(
        wait_for(Duration::from_secs(60), || async {
            db.count("events").await > 0
        })
        .await
    );
    first.kill().expect("SIGKILL");
    first.wait().expect("reaped");
    let at_kill = db.count("events").await;

    let mut second = start();
    let all_in = wait_for(Duration::from_secs(60), || async {
        db.count("events").await >= served
    })
    .await;
    second.kill().expect("stop");
    second.wait().expect("reaped");
    assert!(
        all_in,
        "{} of {served} events after the restart (killed at {at_kill})",
        db.count("events").await
    );
    assert_eq!(db.count("events").await, served, "events stored twice");
    let duplicate_burns: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT event_id, pos FROM burns
                                GROUP BY event_id, pos HAVING count(*) > 1) d",
    )
    .fetch_one(db.store.pool())
    .await
    .expect("duplicates");
    assert_eq!(duplicate_burns, 0);
    let burns: u64 = sim
        .stats
        .values()
        .flat_map(|s| s.groups.values())
        .map(|t| t.burn_count)
        .sum();
    assert_eq!(db.count("burns").await as u64, burns);
    db.drop().await;
}
