//! `mintwatch run` as a child process, and what it then serves, compared across runs: for the
//! fault and hostile-relay tests, which each compare a disturbed run with an undisturbed one.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use sqlx::Row;

use mintwatch_indexer::fault::FAULT_ENV;
use mintwatch_testkit::{wait_for, AS_OF};

use super::{log_field, Running};

/// Events per batch: small, so the corpus is many batches and a crash lands in the middle.
pub const BATCH: &str = "8";

/// `mintwatch run` against `relays` (comma-separated) and `db`, with `env` added; logs on stdout
/// (collected).
pub fn start(relays: &str, database_url: &str, env: &[(&str, &str)]) -> Running {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mintwatch"));
    for var in ["MINTWATCH_CONFIG", "MINTWATCH_KEY_FILE", FAULT_ENV] {
        command.env_remove(var);
    }
    command
        .arg("run")
        .env("MINTWATCH_RELAYS", relays)
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
pub fn listen_of(run: &Running) -> String {
    let line = run.wait_for_line(Duration::from_secs(60), |l| l.contains("mintwatch running"));
    log_field(&line, "listen")
        .expect("the log names the bound address")
        .to_string()
}

pub async fn count(url: &str, sql: &str) -> i64 {
    let pool = sqlx::PgPool::connect(url).await.expect("connect");
    let n: i64 = sqlx::query_scalar(sql)
        .fetch_one(&pool)
        .await
        .expect("count");
    pool.close().await;
    n
}

pub async fn readyz(listen: &str) -> (u16, String) {
    match reqwest::get(format!("http://{listen}/readyz")).await {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
        Err(e) => (0, e.to_string()),
    }
}

/// Waits until every acceptable event is stored, the analysis queue is empty (every batch
/// analysed and its mints ranked) and `/readyz` says ready.
pub async fn settled(url: &str, listen: &str, events: i64) -> bool {
    wait_for(Duration::from_secs(120), || async {
        count(url, "SELECT count(*) FROM events").await >= events
            && count(url, "SELECT count(*) FROM analysis_queue").await == 0
            && readyz(listen).await.0 == 200
    })
    .await
}

/// Fields that say when this process did something, or in which order it numbered its rows, not
/// what the data is.
pub const WHEN: [&str; 4] = ["ranked_at", "updated_at", "first_found", "received_at"];

/// `value` without [`WHEN`], and with only the open findings of a findings page, without their
/// row ids: a resolved finding records a state that held between two batches (a liability
/// inversion before the mint's next 4919 arrived), which depends on where batches happened to
/// split, not on the events; what stays open is a function of the events alone.
pub fn stable(value: &mut serde_json::Value) {
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
pub async fn served(url: &str, listen: &str) -> BTreeMap<String, serde_json::Value> {
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
