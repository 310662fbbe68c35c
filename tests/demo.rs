//! The demo as a user meets it, and the dashboards against a real Prometheus, in one demo run:
//! `mintwatch demo` on a free port with its own database; the example request it prints, run as
//! printed, answers the JSON the README documents; Prometheus (Debian's `prometheus`, installed
//! by `scripts/setup.sh`) scrapes the demo every second, and every panel's PromQL of
//! `dashboards/*.json` runs through its HTTP query API without error, the core panels with data;
//! within a minute the real cdk mint it runs behind the gateway is in the directory with burns
//! rising and no finding, its wallets' NMC calls and payments show on the progress line and the
//! printed check_spent of a Y they spent answers it burnt; and within two minutes of its start
//! the demo has shown a finding of every type.

mod common;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::{free_port, Running};
use mintwatch_protocol::FindingKind;
use mintwatch_testkit::{poll_until, wait_for, TestDb};

/// Panels that must show data while the demo runs (by title): ingest rate, rejects, findings,
/// HTTP latency. The demo publishes malformed and forged events, so rejects are never empty.
const CORE_PANELS: [&str; 4] = [
    "Events received per relay",
    "Events rejected by reason",
    "Findings recorded by type",
    "HTTP latency p99 by route",
];

/// Seconds of scraping wanted before the final pass over the panels.
const SCRAPES: u64 = 5;

/// The Prometheus binary: `MINTWATCH_PROMETHEUS`, or `prometheus` on the PATH.
fn prometheus_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("MINTWATCH_PROMETHEUS") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "MINTWATCH_PROMETHEUS names no file: {} (unset it and run `bash scripts/setup.sh`, which installs prometheus)",
            path.display()
        );
        return path;
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("prometheus"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "the `prometheus` binary is missing: run `bash scripts/setup.sh` (it installs \
             Debian's prometheus package; CI does this), or set MINTWATCH_PROMETHEUS"
        )
    })
}

/// The committed scrape configuration is one Prometheus accepts (`promtool`, shipped with it).
#[test]
fn the_committed_prometheus_config_is_valid() {
    let promtool = prometheus_binary().with_file_name("promtool");
    assert!(
        promtool.is_file(),
        "no promtool next to prometheus ({}): run `bash scripts/setup.sh`",
        promtool.display()
    );
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards/prometheus.yml");
    let out = Command::new(&promtool)
        .args(["check", "config"])
        .arg(&config)
        .output()
        .expect("promtool runs");
    assert!(
        out.status.success(),
        "promtool refuses {}: {}{}",
        config.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A panel's query.
struct PanelQuery {
    board: String,
    title: String,
    expr: String,
}

/// Every target `expr` of every panel of `dashboards/*.json`, Grafana variables substituted.
fn panel_queries() -> Vec<PanelQuery> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("dashboards/") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let board: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        for panel in board["panels"].as_array().expect("panels") {
            for target in panel["targets"].as_array().expect("targets") {
                out.push(PanelQuery {
                    board: path.file_name().expect("name").to_string_lossy().into(),
                    title: panel["title"].as_str().expect("title").to_string(),
                    expr: grafana_to_promql(target["expr"].as_str().expect("expr")),
                });
            }
        }
    }
    out
}

/// Grafana's variables replaced by what a dashboard would send: the interval variables by
/// windows that hold several 1 s scrapes, any other `$var`, `${var}`, `${var:fmt}` or
/// `[[var]]` (label selections) by "all", `.*`.
fn grafana_to_promql(expr: &str) -> String {
    let mut s = expr
        .replace("$__rate_interval", "1m")
        .replace("${__rate_interval}", "1m")
        .replace("$__interval", "30s")
        .replace("${__interval}", "30s")
        .replace("$__range", "5m")
        .replace("${__range}", "5m");
    while let Some(i) = s.find("[[") {
        let Some(j) = s[i..].find("]]") else { break };
        s.replace_range(i..i + j + 2, ".*");
    }
    while let Some(i) = s.find('$') {
        let rest = &s[i + 1..];
        let len = if let Some(inner) = rest.strip_prefix('{') {
            inner.find('}').map(|j| j + 2).unwrap_or(rest.len())
        } else {
            rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len())
        };
        s.replace_range(i..i + 1 + len, ".*");
    }
    s
}

#[test]
fn grafana_variables_become_promql() {
    assert_eq!(
        grafana_to_promql(
            r#"sum by (relay) (rate(x_total{relay=~"$relay",k=~"${kind:regex}",r=~"[[route]]"}[$__rate_interval]))"#
        ),
        r#"sum by (relay) (rate(x_total{relay=~".*",k=~".*",r=~".*"}[1m]))"#
    );
    assert_eq!(grafana_to_promql("rate(a[5m])"), "rate(a[5m])");
}

/// The JSON the README documents after the line showing `request`.
fn readme_example(request: &str) -> Value {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let at = readme
        .find(request)
        .unwrap_or_else(|| panic!("the README does not show {request}"));
    let block = &readme[at..];
    let start = block
        .find("```json")
        .expect("a ```json block after the request")
        + 7;
    let end = block[start..].find("```").expect("the block ends") + start;
    serde_json::from_str(&block[start..end]).expect("the README's example is JSON")
}

/// Whether `live` has the shape of `documented`: the same keys in every object, compatible types
/// (a documented value may be null where the live one is not, and the reverse), and every
/// array element shaped like the documented first element.
fn same_shape(documented: &Value, live: &Value, at: &str, problems: &mut Vec<String>) {
    match (documented, live) {
        (Value::Null, _) | (_, Value::Null) => {}
        (Value::Object(d), Value::Object(l)) => {
            for key in d.keys().filter(|k| !l.contains_key(*k)) {
                problems.push(format!("{at}.{key}: documented, missing"));
            }
            for key in l.keys().filter(|k| !d.contains_key(*k)) {
                problems.push(format!("{at}.{key}: returned, not documented"));
            }
            for (key, d) in d {
                if let Some(l) = l.get(key) {
                    same_shape(d, l, &format!("{at}.{key}"), problems);
                }
            }
        }
        (Value::Array(d), Value::Array(l)) => {
            if let Some(first) = d.first() {
                for (i, l) in l.iter().enumerate() {
                    same_shape(first, l, &format!("{at}[{i}]"), problems);
                }
            }
        }
        (Value::String(_), Value::String(_))
        | (Value::Number(_), Value::Number(_))
        | (Value::Bool(_), Value::Bool(_)) => {}
        (d, l) => problems.push(format!("{at}: documented {d}, returned {l}")),
    }
}

/// The URL of a printed `curl -s '<url>'` or `curl -s <url>` line.
fn url_of(curl: &str) -> &str {
    curl.split_whitespace()
        .find(|w| w.trim_matches('\'').starts_with("http://"))
        .map(|w| w.trim_matches('\''))
        .expect("a URL in the printed request")
}

/// Runs a PromQL query; panics unless Prometheus answers `success`.
async fn query(client: &reqwest::Client, prometheus: &str, expr: &str) -> Vec<Value> {
    let response = client
        .get(format!("{prometheus}/api/v1/query"))
        .query(&[("query", expr)])
        .send()
        .await
        .expect("Prometheus answers");
    let body: Value = response.json().await.expect("a JSON answer");
    assert_eq!(
        body["status"], "success",
        "Prometheus refused `{expr}`: {body}"
    );
    body["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Whether a query result has at least one finite sample.
fn has_data(result: &[Value]) -> bool {
    result.iter().any(|sample| {
        sample["value"][1]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok())
            .is_some_and(f64::is_finite)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_answers_its_example_request_shows_every_finding_type_and_feeds_every_panel() {
    let prometheus_bin = prometheus_binary();
    let queries = panel_queries();
    for title in CORE_PANELS {
        assert!(
            queries.iter().any(|q| q.title == title),
            "no dashboard panel is titled {title:?} (the core panels are named in this test)"
        );
    }
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");

    let mut command = Command::new(env!("CARGO_BIN_EXE_mintwatch"));
    command
        .args(["demo", "--listen", "127.0.0.1:0", "--honest-mints", "4"])
        .arg("--key-file")
        .arg(dir.path().join("demo.key"))
        .env_remove("MINTWATCH_CONFIG")
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn")
        .stderr(Stdio::inherit());
    let started = Instant::now();
    let mut demo = Running::spawn("mintwatch demo", command);
    // The website's address comes first, before the API's.
    let website_line = demo.wait_for_line(Duration::from_secs(60), |l| {
        let l = l.trim_start();
        l.starts_with("website ") || l.starts_with("API ") || l.starts_with("relay ")
    });
    assert!(
        website_line.trim_start().starts_with("website "),
        "the first address printed is not the website's: {website_line}"
    );
    let api_line = demo.wait_for_line(Duration::from_secs(60), |l| {
        l.trim_start().starts_with("API ")
    });
    let base = url_of(&api_line)
        .split("/v1/")
        .next()
        .expect("base")
        .to_string();
    let target = base.trim_start_matches("http://").to_string();
    let example = demo.wait_for_line(Duration::from_secs(10), |l| {
        l.trim_start().starts_with("try ")
    });
    let example = example
        .trim_start()
        .trim_start_matches("try")
        .trim()
        .to_string();
    assert!(example.starts_with("curl "), "{example}");

    // Prometheus scrapes the demo every second from now on.
    let port = free_port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: mintwatch\n    static_configs:\n      \
             - targets: [\"{target}\"]\n"
        ),
    )
    .expect("prometheus.yml");
    let mut command = Command::new(&prometheus_bin);
    command
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stderr(Stdio::null());
    let _prometheus = Running::spawn("prometheus", command);
    let prometheus = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let ready = wait_for(Duration::from_secs(30), || async {
        client
            .get(format!("{prometheus}/-/ready"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    assert!(ready, "Prometheus is not ready after 30 s");

    // The example request, once the directory has mints: run as printed, it answers the JSON
    // the README documents.
    let listed = wait_for(Duration::from_secs(60), || async {
        let page: Option<Value> = match client.get(url_of(&example)).send().await {
            Ok(r) => r.json().await.ok(),
            Err(_) => None,
        };
        page.is_some_and(|p| p["mints"].as_array().is_some_and(|m| !m.is_empty()))
    })
    .await;
    assert!(
        listed,
        "the directory is still empty after 60 s:\n{}",
        demo.output()
    );
    let website = url_of(&website_line).to_string();
    let home = client
        .get(&website)
        .send()
        .await
        .expect("the website answers");
    assert!(home.status().is_success(), "{website}: {}", home.status());
    let html = home.text().await.expect("the directory page");
    assert!(html.contains("Cashu mint directory"), "{website}: {html}");
    let page = run_printed(&example);
    let documented = readme_example("/v1/mints?sort=rank&limit=5");
    let mut problems = Vec::new();
    same_shape(&documented, &page, "", &mut problems);
    assert!(
        problems.is_empty(),
        "`{example}` answered JSON unlike the README's: {problems:#?}\n{page:#}"
    );
    let mints = page["mints"].as_array().expect("mints");
    assert!((1..=5).contains(&mints.len()), "limit=5: {page}");
    let ranks: Vec<f64> = mints
        .iter()
        .map(|m| m["rank"].as_f64().unwrap_or(-1.0))
        .collect();
    assert!(
        ranks.windows(2).all(|w| w[0] >= w[1]),
        "sort=rank: {ranks:?}"
    );
    // The next request it suggests: one mint's report, for a key from the list.
    let key = mints[0]["key"].as_str().expect("key");
    let report: Value = client
        .get(format!("{base}/v1/mints/{key}"))
        .send()
        .await
        .expect("report")
        .json()
        .await
        .expect("JSON report");
    assert_eq!(report["key"], key);

    // The real mint: in the directory within 60 s of the start, with no finding and burns
    // rising; NMC calls and wallet-to-wallet payments on the progress line; the printed
    // check_spent of a Y the wallets spent answers that it is burnt, by that mint.
    real_mint_loop(&demo, &client, &base, started).await;

    // Until the core panels have data (and at least SCRAPES scrapes), and the demo has shown a
    // finding of every type (the README promises them within two minutes of the start): keep
    // the API busy meanwhile so the latency histogram moves.
    let missing: RefCell<Vec<&str>> = RefCell::new(CORE_PANELS.to_vec());
    let kinds_missing: RefCell<Vec<&str>> =
        RefCell::new(FindingKind::ALL.iter().map(|k| k.as_str()).collect());
    let left = (started + Duration::from_secs(120)).saturating_duration_since(Instant::now());
    let shown = poll_until(left, Duration::from_millis(500), || async {
        if let Ok(r) = client.get(format!("{base}/v1/stats")).send().await {
            let stats: Value = r.json().await.unwrap_or_default();
            kinds_missing.borrow_mut().retain(|k| {
                stats["store"]["findings"][*k]["unresolved"]
                    .as_u64()
                    .is_none_or(|n| n == 0)
            });
        }
        let titles = missing.borrow().clone();
        let mut still = Vec::new();
        for title in titles {
            let mut any = false;
            for q in queries.iter().filter(|q| q.title == title) {
                any |= has_data(&query(&client, &prometheus, &q.expr).await);
            }
            if !any {
                still.push(title);
            }
        }
        let done = still.is_empty() && kinds_missing.borrow().is_empty();
        *missing.borrow_mut() = still;
        done && scrapes(&client, &prometheus).await >= SCRAPES
    })
    .await;
    assert!(
        shown,
        "120 s after the start, core panels without data: {:?}, finding types not shown: \
         {:?}\ndemo output:\n{}",
        missing.borrow(),
        kinds_missing.borrow(),
        demo.output()
    );

    // Every panel: no query errors; the core ones with data.
    for q in &queries {
        let result = query(&client, &prometheus, &q.expr).await;
        if CORE_PANELS.contains(&q.title.as_str()) {
            assert!(
                has_data(&result),
                "core panel {:?} of {} has no data: `{}` gave {result:?}",
                q.title,
                q.board,
                q.expr
            );
        }
    }

    assert!(
        demo.terminate(Duration::from_secs(30)),
        "the demo did not stop cleanly on SIGTERM:\n{}",
        demo.output()
    );
    db.drop().await;
}

/// Runs a request the demo printed, as printed, and returns its JSON answer.
fn run_printed(command: &str) -> Value {
    let out = Command::new("sh")
        .args(["-c", command])
        .output()
        .expect("sh runs the printed request");
    assert!(out.status.success(), "`{command}` failed: {out:?}");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("`{command}` answered no JSON ({e}): {out:?}"))
}

/// The mint's row in `/v1/mints`, if listed.
async fn directory_row(client: &reqwest::Client, base: &str, key: &str) -> Option<Value> {
    let page: Value = client
        .get(format!("{base}/v1/mints?limit=200"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    page["mints"]
        .as_array()?
        .iter()
        .find(|m| m["key"] == key)
        .cloned()
}

/// The number after `label` in a progress line (`NMC calls 12`, `payments 3 made`).
fn count_after(line: &str, label: &str) -> Option<u64> {
    let rest = &line[line.find(label)? + label.len()..];
    rest.split_whitespace()
        .next()?
        .trim_end_matches(',')
        .parse()
        .ok()
}

/// The demo's real cdk mint, its gateway and its wallets, as the README's demo section promises.
async fn real_mint_loop(demo: &Running, client: &reqwest::Client, base: &str, started: Instant) {
    let line = demo.find_line(Duration::from_secs(10), |l| {
        l.trim_start().starts_with("cdk mint ")
    });
    let key = line
        .split_whitespace()
        .nth(2)
        .expect("the cdk mint line names its key")
        .to_string();
    assert_eq!(key.len(), 64, "a 64-hex key: {line}");

    let row: RefCell<Value> = RefCell::new(Value::Null);
    let left = (started + Duration::from_secs(60)).saturating_duration_since(Instant::now());
    let listed = wait_for(left, || async {
        let found = directory_row(client, base, &key).await;
        let burning = found
            .as_ref()
            .is_some_and(|m| m["burns"].as_u64().is_some_and(|b| b > 0));
        *row.borrow_mut() = found.unwrap_or(Value::Null);
        burning
    })
    .await;
    assert!(
        listed,
        "the cdk mint {key} is not in /v1/mints with burns 60 s after the start: {}\n{}",
        row.borrow(),
        demo.output()
    );
    let first = row.borrow().clone();
    assert_eq!(first["findings"], 0, "the real mint has findings: {first}");
    assert_eq!(first["identity"], "self-signed", "{first}");
    let burns = first["burns"].as_u64().expect("burns");
    let rising = wait_for(Duration::from_secs(30), || async {
        let now = directory_row(client, base, &key).await;
        let more = now
            .as_ref()
            .is_some_and(|m| m["burns"].as_u64().is_some_and(|b| b > burns));
        if let Some(now) = now {
            *row.borrow_mut() = now;
        }
        more
    })
    .await;
    assert!(
        rising,
        "the cdk mint's burns stay at {burns}: {}\n{}",
        row.borrow(),
        demo.output()
    );
    assert_eq!(
        row.borrow()["findings"],
        0,
        "the real mint has findings: {}",
        row.borrow()
    );

    // `NMC calls <n>  payments <made> made, <redeemed> redeemed, …`
    demo.find_line(Duration::from_secs(30), |l| {
        count_after(l, "NMC calls ").is_some_and(|n| n > 0)
            && count_after(l, "payments ").is_some_and(|n| n > 0)
            && count_after(l, " made, ").is_some_and(|n| n > 0)
    });

    let try_spent = demo.find_line(Duration::from_secs(30), |l| {
        l.trim_start().starts_with("try ") && l.contains("/v1/spent/")
    });
    let command = try_spent
        .trim_start()
        .trim_start_matches("try")
        .split("   (")
        .next()
        .expect("the command")
        .trim()
        .to_string();
    assert!(command.starts_with("curl "), "{try_spent}");
    let entry = run_printed(&command);
    let burnt = entry["burnt"].as_array().expect("burnt");
    assert!(
        burnt.iter().any(|b| b["mint"] == key.as_str()),
        "`{command}`: the Y is not reported burnt by the cdk mint {key}: {entry}"
    );
    let nostr = demo.find_line(Duration::from_secs(5), |l| {
        l.trim_start().starts_with("or over nostr ")
    });
    assert!(nostr.contains("\"check_spent\""), "{nostr}");
}

/// Samples Prometheus holds of the demo's `up` over the last minute.
async fn scrapes(client: &reqwest::Client, prometheus: &str) -> u64 {
    let result = query(client, prometheus, "count_over_time(up[1m])").await;
    result
        .first()
        .and_then(|s| s["value"][1].as_str())
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0, |n| n as u64)
}
