//! The `mintwatch` binary as an operator runs it: flags from the environment, migrations on
//! start, graceful shutdown on SIGTERM with everything delivered stored.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{log_field, Running};

use mintwatch_sim::{SimConfig, Simulation, Simulator};
use mintwatch_testkit::{wait_for, TestDb, TestRelay};

/// The binary with none of its settings inherited from the environment of the test run.
fn mintwatch() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mintwatch"));
    for var in [
        "MINTWATCH_CONFIG",
        "MINTWATCH_RELAYS",
        "MINTWATCH_LISTEN",
        "MINTWATCH_KEY_FILE",
        "MINTWATCH_GAP_GRACE_SECS",
        "MINTWATCH_PUBLISH_INTERVAL_SECS",
        "DATABASE_URL",
    ] {
        command.env_remove(var);
    }
    command
}

/// A relay holding a simulation, and how many of its events must be stored (all but the
/// rejects).
async fn relay_with(honest_mints: usize, rounds: u64) -> (Simulation, TestRelay, i64) {
    let sim = Simulator::run(SimConfig {
        honest_mints,
        rounds,
        ..SimConfig::default()
    })
    .expect("simulation");
    let relay = TestRelay::start(None).await;
    relay.store(&sim.events).await;
    let served = (relay.served_ids().await.len() - sim.rejects.len()) as i64;
    (sim, relay, served)
}

/// Writes a config file into `dir`.
fn config_file(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    let path = dir.path().join("mintwatch.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// `mintwatch run --print-config` with these arguments and environment, parsed.
fn effective(args: &[&str], env: &[(&str, &str)]) -> toml::Table {
    let out = mintwatch()
        .arg("run")
        .args(args)
        .arg("--print-config")
        .envs(env.iter().copied())
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    toml::from_str(&String::from_utf8_lossy(&out.stdout)).expect("printed settings are TOML")
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
fn settings_come_from_flag_then_environment_then_config_file_then_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = config_file(
        &dir,
        r#"
relays = ["wss://file.example"]
listen = "127.0.0.1:7001"
gap_grace_secs = 100
publish_interval_secs = 7
"#,
    );
    let file = file.to_str().expect("utf-8 path");
    let s = effective(
        &["--config", file, "--listen", "127.0.0.1:7003"],
        &[
            ("MINTWATCH_LISTEN", "127.0.0.1:7002"),
            ("MINTWATCH_GAP_GRACE_SECS", "200"),
        ],
    );
    assert_eq!(s["listen"].as_str(), Some("127.0.0.1:7003"), "flag wins");
    assert_eq!(s["gap_grace_secs"].as_integer(), Some(200), "env over file");
    assert_eq!(s["publish_interval_secs"].as_integer(), Some(7), "file");
    assert_eq!(
        s["database_url"].as_str(),
        Some("postgres://localhost/mintwatch"),
        "default"
    );
    assert_eq!(s["relays"].as_array().map(Vec::len), Some(1));
    assert_eq!(s["relays"][0].as_str(), Some("wss://file.example"));
    assert!(s.get("key_file").is_none(), "no key file unless asked");

    // The file through MINTWATCH_CONFIG; relays from the environment replace the file's.
    let s = effective(
        &[],
        &[
            ("MINTWATCH_CONFIG", file),
            ("MINTWATCH_RELAYS", "wss://a.example,wss://b.example"),
            ("DATABASE_URL", "postgres://db.example/mw"),
        ],
    );
    let relays: Vec<&str> = s["relays"]
        .as_array()
        .expect("relays")
        .iter()
        .filter_map(|r| r.as_str())
        .collect();
    assert_eq!(relays, ["wss://a.example", "wss://b.example"]);
    assert_eq!(s["database_url"].as_str(), Some("postgres://db.example/mw"));
    assert_eq!(s["listen"].as_str(), Some("127.0.0.1:7001"));

    // The committed example is a working config file.
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/mintwatch.toml.example");
    let s = effective(&["--config", example], &[]);
    assert_eq!(s["listen"].as_str(), Some("127.0.0.1:8080"));
    assert_eq!(s["gap_grace_secs"].as_integer(), Some(3600));
}

#[test]
fn a_bad_config_file_is_refused_naming_the_file_and_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let refused = |text: &str| {
        let path = config_file(&dir, text);
        let out = mintwatch()
            .args(["run", "--config"])
            .arg(&path)
            .output()
            .expect("runs");
        assert!(!out.status.success(), "accepted: {text}");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let e = refused("relays = [\"wss://a.example\"]\ngap_grace = 5\n");
    assert!(e.contains("mintwatch.toml"), "{e}");
    assert!(
        e.contains("unknown field") && e.contains("gap_grace"),
        "{e}"
    );
    let e = refused("relays = [\"wss://a.example\"]\ngap_grace_secs = \"an hour\"\n");
    assert!(e.contains("mintwatch.toml"), "{e}");
    assert!(e.contains("gap_grace_secs"), "{e}");
    let e = refused("relays = [\"https://a.example\"]\n");
    assert!(
        e.contains("relays") && e.contains("https://a.example"),
        "{e}"
    );

    let out = mintwatch()
        .args(["run", "--relay", "wss://a.example", "--config"])
        .arg(dir.path().join("missing.toml"))
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot read the config file") && stderr.contains("missing.toml"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_with_a_config_file_serves_readyz_and_logs_backfill_progress_per_relay() {
    let (sim, relay, served) = relay_with(2, 3).await;
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = config_file(
        &dir,
        &format!(
            "relays = [\"{}\"]\ndatabase_url = \"{}\"\nlisten = \"127.0.0.1:0\"\n",
            relay.url, db.url
        ),
    );
    let mut command = mintwatch();
    command
        .arg("run")
        .arg("--config")
        .arg(&path)
        .env("RUST_LOG", "info")
        .stderr(Stdio::null());
    let mut run = Running::spawn("mintwatch run", command);
    let running = run.wait_for_line(Duration::from_secs(60), |l| l.contains("mintwatch running"));
    let listen = log_field(&running, "listen").expect("the log names the bound address");
    // Ready once the analysis left queued (none here) is completed: within moments.
    let ready = wait_for(Duration::from_secs(30), || async {
        reqwest::get(format!("http://{listen}/readyz"))
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    assert!(ready, "/readyz never answered 200");

    // Backfill reports per relay: events delivered, events/s, the oldest timestamp reached.
    // The backfill of a small corpus may end before the start line is printed.
    let progress = run.find_line(Duration::from_secs(60), |l| {
        l.contains("backfill progress")
            && log_field(l, "filter") == Some("public")
            && log_field(l, "walk") == Some("backfill")
            && log_field(l, "done") == Some("true")
    });
    assert_eq!(log_field(&progress, "relay"), Some(relay.url.as_str()));
    let events: u64 = log_field(&progress, "events")
        .and_then(|v| v.parse().ok())
        .expect("events=");
    assert!(events > 0, "{progress}");
    assert!(
        log_field(&progress, "events_per_sec").is_some(),
        "{progress}"
    );
    let oldest: u64 = log_field(&progress, "oldest")
        .and_then(|v| v.parse().ok())
        .expect("oldest=");
    let oldest_event = sim
        .events
        .iter()
        .map(|e| e.created_at)
        .min()
        .expect("events");
    assert!(
        oldest <= oldest_event,
        "a finished backfill reached {oldest}, after the oldest event ({oldest_event})"
    );

    let all_in = wait_for(Duration::from_secs(60), || async {
        db.count("events").await >= served
    })
    .await;
    assert!(all_in, "not every served event was stored");
    assert!(
        run.terminate(Duration::from_secs(30)),
        "no clean exit after SIGTERM"
    );
    db.drop().await;
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
    let (_, relay, served) = relay_with(2, 3).await;
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
        db.count("events").await >= served
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
    let (sim, relay, served) = relay_with(12, 8).await;
    let db = TestDb::new().await;
    let start = || {
        mintwatch()
            .arg("run")
            .env("MINTWATCH_RELAYS", &relay.url)
            // Small batches: many commits, so the kill lands between two of them.
            .env("MINTWATCH_BATCH_SIZE", "4")
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
    assert!(
        at_kill < served,
        "killed after ingest finished ({at_kill} of {served}): the kill proved nothing"
    );

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
    assert_eq!(db.duplicate_burns().await, 0);
    let burns: u64 = sim
        .stats
        .values()
        .flat_map(|s| s.groups.values())
        .map(|t| t.burn_count)
        .sum();
    assert_eq!(db.count("burns").await as u64, burns);
    db.drop().await;
}
