//! Every metric a dashboard uses is exported: run the indexer and the API over simulated mints,
//! scrape `/metrics`, and look for every metric named in every panel of `dashboards/*.json`.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::time::Duration;

use mintwatch::live;
use mintwatch_api::{metrics_recorder, serve, ApiState};
use mintwatch_indexer::analyze::AnalyzeConfig;
use mintwatch_indexer::crawl::CrawlConfig;
use mintwatch_indexer::ingest::IngestConfig;
use mintwatch_indexer::service::{IndexerConfig, RunningIndexer};
use mintwatch_sim::{SimConfig, Simulator};
use mintwatch_testkit::{poll_until, wait_for, TestDb, TestRelay};

/// Metric names in a PromQL expression (histogram series reduced to the histogram's name).
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = expr;
    while let Some(i) = rest.find("mintwatch_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(tail.len());
        let mut name = &tail[..end];
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = name.strip_suffix(suffix) {
                name = base;
            }
        }
        names.insert(name.to_string());
        rest = &tail[end..];
    }
    names
}

fn dashboard_metrics() -> BTreeSet<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/dashboards");
    let mut names = BTreeSet::new();
    let mut boards = 0;
    for entry in std::fs::read_dir(dir).expect("dashboards/") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        boards += 1;
        let board: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        let panels = board["panels"].as_array().expect("panels");
        assert!(!panels.is_empty(), "{} has no panels", path.display());
        for panel in panels {
            for target in panel["targets"].as_array().expect("targets") {
                let expr = target["expr"].as_str().expect("expr");
                let found = metric_names(expr);
                assert!(
                    !found.is_empty(),
                    "a panel of {} names no metric",
                    path.display()
                );
                names.extend(found);
            }
        }
    }
    assert!(boards >= 5, "expected the five dashboards, found {boards}");
    names
}

#[test]
fn metric_names_are_read_from_promql() {
    let names = metric_names(
        "histogram_quantile(0.99, sum by (le) (rate(mintwatch_db_write_seconds_bucket[5m]))) / mintwatch_mints",
    );
    assert_eq!(
        names,
        BTreeSet::from([
            "mintwatch_db_write_seconds".to_string(),
            "mintwatch_mints".to_string()
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_a_dashboard_uses_is_exported() {
    let wanted = dashboard_metrics();
    let metrics = metrics_recorder().expect("recorder");
    let sim = Simulator::run(SimConfig {
        honest_mints: 3,
        rounds: 4,
        ..SimConfig::default()
    })
    .expect("simulation");
    let relay = TestRelay::start(None).await;
    relay.store(&sim.events).await;
    let db = TestDb::new().await;
    let indexer = RunningIndexer::start(
        db.store.clone(),
        IndexerConfig {
            crawl: CrawlConfig {
                relays: vec![relay.url.clone()],
                ..CrawlConfig::default()
            },
            ingest: IngestConfig {
                maintain_every: Duration::from_millis(200),
                ..IngestConfig::default()
            },
            analyze: AnalyzeConfig {
                gap_grace: Duration::ZERO,
                ..AnalyzeConfig::default()
            },
            ..IndexerConfig::default()
        },
    )
    .await
    .expect("indexer");
    let served = (relay.served_ids().await.len() - sim.rejects.len()) as i64;
    assert!(
        wait_for(Duration::from_secs(60), || async {
            db.count("events").await >= served
        })
        .await
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let state =
        ApiState::new(db.store.clone(), metrics).with_live_stats(live::live_stats(&indexer));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, state, async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    let listing = client
        .get(format!("{base}/v1/mints"))
        .send()
        .await
        .expect("directory");
    assert!(listing.status().is_success());

    let missing = RefCell::new(wanted.clone());
    poll_until(
        Duration::from_secs(10),
        Duration::from_millis(200),
        || async {
            let text = client
                .get(format!("{base}/metrics"))
                .send()
                .await
                .expect("metrics")
                .text()
                .await
                .expect("body");
            let mut missing = missing.borrow_mut();
            missing.retain(|name| {
                !text.lines().any(|l| {
                    !l.starts_with('#')
                        && (l.starts_with(&format!("{name}{{"))
                            || l.starts_with(&format!("{name} "))
                            || l.starts_with(&format!("{name}_bucket")))
                })
            });
            missing.is_empty()
        },
    )
    .await;
    let missing = missing.into_inner();
    let _ = stop.send(());
    let _ = server.await;
    indexer.stop().await.expect("stop");
    db.drop().await;
    assert!(
        missing.is_empty(),
        "dashboards use metrics that /metrics does not export: {missing:?}"
    );
}
