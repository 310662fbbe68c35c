//! `mintwatch demo`: everything on one machine with nothing but PostgreSQL. An in-process relay,
//! simulated mints that keep publishing (most honest; one of each misbehaviour within the first
//! minute), one real mint (cdk in process, fake Lightning) behind the gateway (`real_mint`), two
//! wallets that use it over nostr only (`wallets`), the indexer, the HTTP API and the nostr
//! outputs, with a live progress line.

mod real_mint;
mod wallets;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use nostr_sdk::Client;
use tracing::{info, warn};

use mintwatch_api::nostr::{load_or_create_key, NostrService};
use mintwatch_api::web::SiteInfo;
use mintwatch_api::{metrics_recorder, serve, ApiState};
use mintwatch_indexer::analyze::AnalyzeConfig;
use mintwatch_indexer::crawl::CrawlConfig;
use mintwatch_indexer::service::{IndexerConfig, RunningIndexer};
use mintwatch_sim::{SimConfig, Simulator};
use mintwatch_store::Store;
use mintwatch_testkit::database::ensure_database;
use mintwatch_testkit::TestRelay;

use mintwatch::live::{live_stats, readiness};
use real_mint::RealMint;
use wallets::{WalletStats, WalletsSetup};

/// Settings of the demo.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// PostgreSQL URL; the database is created if missing.
    pub database_url: String,
    /// Where the API listens.
    pub listen: String,
    /// The indexer's key file (created on first start).
    pub key_file: PathBuf,
    /// Honest mints simulated.
    pub honest_mints: usize,
    /// Seconds between publication rounds.
    pub round_secs: u64,
    /// Gap grace period in the demo (short, so a gap shows within two minutes).
    pub gap_grace_secs: u64,
    /// Stop after this long (None: until Ctrl-C).
    pub duration: Option<Duration>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Runs the demo until Ctrl-C/SIGTERM (or `duration`).
pub async fn run(config: DemoConfig) -> anyhow::Result<()> {
    let created = ensure_database(&config.database_url)
        .await
        .with_context(|| {
            format!(
                "cannot prepare the database {}",
                crate::config::without_password(&config.database_url)
            )
        })?;
    if created {
        info!("database created");
    }
    let store = Store::connect(&config.database_url)
        .await
        .context("cannot connect to the database")?;
    store
        .migrate()
        .await
        .context("cannot migrate the database")?;
    let metrics = metrics_recorder().context("metrics recorder")?;

    // A real relay on loopback, with limits raised for one busy local publisher.
    let relay = Arc::new(
        TestRelay::try_start(None)
            .await
            .context("cannot start the local relay")?,
    );
    let relay_url = relay.url.clone();

    let indexer = RunningIndexer::start(
        store.clone(),
        IndexerConfig {
            crawl: CrawlConfig {
                relays: vec![relay_url.clone()],
                ..CrawlConfig::default()
            },
            analyze: AnalyzeConfig {
                gap_grace: Duration::from_secs(config.gap_grace_secs),
                gap_sweep_every: Duration::from_secs(2),
                ..AnalyzeConfig::default()
            },
            ingest: mintwatch_indexer::ingest::IngestConfig {
                maintain_every: Duration::from_secs(2),
                ..Default::default()
            },
            ..IndexerConfig::default()
        },
    )
    .await
    .context("cannot start the indexer")?;

    let keys = load_or_create_key(&config.key_file).context("indexer key")?;
    let keys_public = keys.public_key();
    let indexer_key = keys_public.to_hex();
    let mut nostr = NostrService::new(vec![relay_url.clone()], keys);
    nostr.publish_interval = Duration::from_secs(30);
    let nostr = nostr
        .start(store.clone())
        .await
        .context("cannot start the nostr outputs")?;

    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    // The address actually bound (`--listen 127.0.0.1:0` picks a free port).
    let bound = listener
        .local_addr()
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    // The real mint's files (the gateway's outbox, the wallets' homes) live as long as the run.
    let run_dir = std::env::temp_dir().join(format!("mintwatch-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&run_dir);
    std::fs::create_dir_all(&run_dir)
        .with_context(|| format!("cannot create {}", run_dir.display()))?;
    let real = RealMint::start(&config.database_url, &relay_url, &run_dir)
        .await
        .context("cannot start the demo's cdk mint and its gateway")?;

    let state = ApiState::new(store.clone(), metrics.clone())
        .with_live_stats(live_stats(&indexer))
        .with_readiness(readiness(&indexer))
        .with_site(SiteInfo {
            indexer_key: Some(indexer_key),
            relays: vec![relay_url.clone()],
        });
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let http = tokio::spawn(serve(listener, state, async {
        let _ = http_stopped.await;
    }));

    let base = format!("http://{bound}");
    println!();
    println!("mintwatch demo");
    println!("  website          {base}/");
    println!("  relay            {relay_url}");
    println!("  API              {base}/v1/mints?sort=rank");
    println!("  metrics          {base}/metrics");
    println!("  OpenAPI          {base}/openapi.json");
    println!(
        "  indexer key      {} ({})",
        nostr.public_key(),
        config.key_file.display()
    );
    println!(
        "  cdk mint         {} (real, in process at {}, fake Lightning; its gateway publishes \
         its feed every {} s and serves it over NMC)",
        real.key.to_hex(),
        real.url,
        real_mint::BATCH_INTERVAL.as_secs()
    );
    println!(
        "  wallets          alice and bob mint, pay each other, redeem and melt every {} s, \
         over nostr only ({})",
        wallets::ROUND.as_secs(),
        run_dir.display()
    );
    println!("  try              curl -s '{base}/v1/mints?sort=rank&limit=5'");
    println!("  then             curl -s {base}/v1/mints/<key>   (a key from the list above)");
    println!("  Ctrl-C stops it");
    println!();

    let publisher = tokio::spawn(publish_forever(relay.clone(), config.clone()));
    let wallet_stats = Arc::new(WalletStats::default());
    let wallets = tokio::spawn(wallets::run_forever(
        WalletsSetup {
            dir: run_dir.clone(),
            relay: relay_url.clone(),
            mint: real.key,
            indexer: keys_public,
            api_base: base.clone(),
        },
        wallet_stats.clone(),
    ));
    let progress = tokio::spawn(progress_forever(
        store.clone(),
        indexer.ingest_stats().clone(),
        move || metrics.render(),
        wallet_stats,
    ));

    match config.duration {
        Some(d) => {
            tokio::select! {
                _ = tokio::time::sleep(d) => {},
                _ = crate::shutdown::signal() => {},
            }
        }
        None => crate::shutdown::signal().await,
    }
    println!();
    info!("stopping");
    publisher.abort();
    progress.abort();
    wallets.abort();
    real.stop().await;
    let _ = std::fs::remove_dir_all(&run_dir);
    let _ = stop_http.send(());
    let _ = http.await;
    nostr.stop().await;
    indexer.stop().await.context("ingest ended with an error")?;
    relay.shutdown();
    store.close().await;
    Ok(())
}

/// Publishes a round of the simulation every `round_secs`, over a real websocket.
async fn publish_forever(relay: Arc<TestRelay>, config: DemoConfig) -> anyhow::Result<()> {
    let mut sim = Simulator::new(SimConfig {
        seed: now(),
        start_time: now(),
        round_interval_secs: config.round_secs.max(5),
        honest_mints: config.honest_mints,
        rounds: u64::MAX,
        ..SimConfig::default()
    })
    .context("simulation settings")?;
    let client = Client::default();
    client.add_relay(&relay.url).await?;
    client.connect().await;
    let mut tick = tokio::time::interval(Duration::from_secs(config.round_secs.max(5)));
    loop {
        tick.tick().await;
        let events = tokio::task::spawn_blocking(move || {
            let events = sim.next_round();
            (sim, events)
        })
        .await?;
        sim = events.0;
        for event in events.1 {
            let Ok(event) = event.to_nostr() else {
                continue;
            };
            // Forged events are part of the simulation. The relay refuses them; a hostile or
            // careless relay would not, so the demo serves them anyway.
            let accepted = match client.send_event(&event).await {
                Ok(output) => !output.success.is_empty(),
                Err(_) => false,
            };
            if !accepted {
                if let Err(e) = relay.serve_unchecked(&event).await {
                    warn!(error = %e, "cannot serve a refused simulated event");
                }
            }
        }
    }
}

/// The sum of the samples of `name` with the label `label` in a Prometheus text exposition.
fn metric_sum(text: &str, name: &str, label: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') && rest.contains(label))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Prints a progress line every two seconds: the indexer's counts, the NMC requests the real
/// mint's gateway answered (from its counter in the demo's metrics), the wallets' payments.
async fn progress_forever(
    store: Store,
    stats: Arc<mintwatch_indexer::ingest::IngestStats>,
    render_metrics: impl Fn() -> String,
    wallets: Arc<WalletStats>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut last = (Instant::now(), 0u64);
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        tick.tick().await;
        let received = stats.received.load(Ordering::Relaxed);
        let rate = (received - last.1) as f64 / last.0.elapsed().as_secs_f64().max(0.001);
        last = (Instant::now(), received);
        let findings: BTreeMap<String, i64> = store
            .open_finding_counts()
            .await
            .unwrap_or_default()
            .into_iter()
            .collect();
        let findings = if findings.is_empty() {
            "none yet".to_string()
        } else {
            findings
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let nmc = metric_sum(
            &render_metrics(),
            mintwatch_gateway::telemetry::NMC_REQUESTS,
            "outcome=\"answered\"",
        );
        println!(
            "[{:>4}s] {:>6.0} events/s  stored {}  rejected {}  burns {}  NMC calls {}  \
             payments {} made, {} redeemed, {} seen spent  findings: {}",
            started.elapsed().as_secs(),
            rate,
            stats.stored.load(Ordering::Relaxed),
            stats.rejected.load(Ordering::Relaxed),
            stats.burns.load(Ordering::Relaxed),
            nmc as u64,
            wallets.payments_made.load(Ordering::Relaxed),
            wallets.payments_redeemed.load(Ordering::Relaxed),
            wallets.payments_seen_spent.load(Ordering::Relaxed),
            findings
        );
    }
}
