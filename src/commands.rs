//! The subcommands and their flags (each flag also read from the environment).

use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use tracing::info;

use mintwatch_indexer::analyze::AnalyzeConfig;
use mintwatch_indexer::crawl::CrawlConfig;
use mintwatch_indexer::service::{IndexerConfig, RunningIndexer};
use mintwatch_indexer::store::Store;
use mintwatch_protocol::simulate::{SimConfig, Simulator};

/// mintwatch: crawl relays for Cashu mints' announcements and signed spent logs, verify every
/// signature, and find double-spends, forks, gaps, liabilities that do not add up and identities
/// that do not match.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Production: crawl the configured relays into PostgreSQL and analyze continuously.
    Run(RunArgs),
    /// Apply the database migrations and exit.
    Migrate(DatabaseArgs),
    /// Publish simulated mints (honest and misbehaving) to a relay.
    Simulate(SimulateArgs),
    /// Everything on this machine with nothing but PostgreSQL: a local relay, simulated mints
    /// that keep publishing (one of each misbehaviour within the first minute), the indexer, the
    /// API and the nostr outputs.
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
struct DemoArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// Where the HTTP API listens.
    #[arg(long, env = "MINTWATCH_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// The indexer's nostr key file (created with mode 0600 if missing).
    #[arg(long, env = "MINTWATCH_KEY_FILE", default_value = "mintwatch-demo.key")]
    key_file: std::path::PathBuf,
    /// Honest mints to simulate (one misbehaving mint of each kind is added).
    #[arg(long, default_value_t = 12)]
    honest_mints: usize,
    /// Seconds between publication rounds.
    #[arg(long, default_value_t = 5)]
    round_secs: u64,
    /// Seconds before a dangling `e` is a gap (short in the demo so one shows up quickly).
    #[arg(long, default_value_t = 20)]
    gap_grace_secs: u64,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    duration_secs: Option<u64>,
}

#[derive(Debug, Args)]
struct DatabaseArgs {
    /// PostgreSQL URL.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://localhost/mintwatch"
    )]
    database_url: String,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// A relay to crawl (repeatable; the environment takes a comma-separated list).
    #[arg(
        long = "relay",
        env = "MINTWATCH_RELAYS",
        value_delimiter = ',',
        required = true
    )]
    relays: Vec<String>,
    #[command(flatten)]
    database: DatabaseArgs,
    /// Seconds an `e` may name an unseen event before it is reported as a gap.
    #[arg(long, env = "MINTWATCH_GAP_GRACE_SECS", default_value_t = 3600)]
    gap_grace_secs: u64,
    /// Where the HTTP API listens.
    #[arg(long, env = "MINTWATCH_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// The indexer's nostr key file (created with mode 0600 on first start). Without it,
    /// nothing is published on nostr and the query service is off.
    #[arg(long, env = "MINTWATCH_KEY_FILE")]
    key_file: Option<std::path::PathBuf>,
    /// Seconds between re-publications of one mint's assertion, at most.
    #[arg(long, env = "MINTWATCH_PUBLISH_INTERVAL_SECS", default_value_t = 600)]
    publish_interval_secs: u64,
}

#[derive(Debug, Args)]
struct SimulateArgs {
    /// The relay to publish to.
    #[arg(long, env = "MINTWATCH_SIMULATE_RELAY")]
    relay: String,
    /// Seed of the simulation (the same seed publishes the same events).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Honest mints (one misbehaving mint of each kind is added).
    #[arg(long, default_value_t = 8)]
    honest_mints: usize,
    /// Rounds of publication.
    #[arg(long, default_value_t = 6)]
    rounds: u64,
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Migrate(db) => {
            let store = connect(&db.database_url).await?;
            info!("migrations applied");
            store.close().await;
            Ok(())
        }
        Command::Run(args) => run_indexer(args).await,
        Command::Simulate(args) => simulate(args).await,
        Command::Demo(args) => {
            crate::demo::run(crate::demo::DemoConfig {
                database_url: args.database.database_url,
                listen: args.listen,
                key_file: args.key_file,
                honest_mints: args.honest_mints,
                round_secs: args.round_secs,
                gap_grace_secs: args.gap_grace_secs,
                duration: args.duration_secs.map(Duration::from_secs),
            })
            .await
        }
    }
}

async fn connect(url: &str) -> anyhow::Result<Store> {
    let store = Store::connect(url)
        .await
        .with_context(|| format!("cannot connect to the database at {url}"))?;
    store
        .migrate()
        .await
        .context("cannot migrate the database")?;
    Ok(store)
}

async fn run_indexer(args: RunArgs) -> anyhow::Result<()> {
    let store = connect(&args.database.database_url).await?;
    let config = IndexerConfig {
        crawl: CrawlConfig {
            relays: args.relays.clone(),
            ..CrawlConfig::default()
        },
        analyze: AnalyzeConfig {
            gap_grace: Duration::from_secs(args.gap_grace_secs),
            ..AnalyzeConfig::default()
        },
        ..IndexerConfig::default()
    };
    let indexer = RunningIndexer::start(store.clone(), config)
        .await
        .context("cannot start the indexer")?;
    let metrics = mintwatch_api::metrics_recorder().context("metrics recorder")?;
    let state = mintwatch_api::ApiState::new(store.clone(), metrics).with_live_stats(
        mintwatch_api::read::LiveStats::new(
            indexer.ingest_stats().clone(),
            Some(indexer.crawl_stats().clone()),
        ),
    );
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let http = tokio::spawn(mintwatch_api::serve(listener, state, async {
        let _ = http_stopped.await;
    }));
    let nostr = match &args.key_file {
        Some(path) => {
            let keys = mintwatch_api::nostr::load_or_create_key(path).context("indexer key")?;
            let mut service = mintwatch_api::nostr::NostrService::new(args.relays.clone(), keys);
            service.publish_interval = Duration::from_secs(args.publish_interval_secs);
            Some(
                service
                    .start(store.clone())
                    .await
                    .context("nostr outputs")?,
            )
        }
        None => None,
    };
    info!(relays = ?args.relays, listen = %args.listen, nostr = nostr.is_some(),
          "mintwatch running; Ctrl-C or SIGTERM stops it");
    shutdown_signal().await;
    info!("stopping: the batch in flight commits whole, cursors stay consistent");
    let _ = stop_http.send(());
    let _ = http.await;
    if let Some(nostr) = nostr {
        nostr.stop().await;
    }
    indexer.stop().await.context("ingest ended with an error")?;
    info!("stopped cleanly");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

async fn simulate(args: SimulateArgs) -> anyhow::Result<()> {
    use nostr_sdk::Client;
    let mut sim = Simulator::new(SimConfig {
        seed: args.seed,
        honest_mints: args.honest_mints,
        rounds: args.rounds,
        ..SimConfig::default()
    })
    .context("invalid simulation settings")?;
    let client = Client::default();
    client
        .add_relay(&args.relay)
        .await
        .context("bad relay URL")?;
    client.connect().await;
    let mut sent = 0usize;
    for _ in 0..args.rounds {
        for event in sim.next_round() {
            let event = event.to_nostr().context("simulated event")?;
            // A relay may refuse forged events (they are in the simulation on purpose).
            if client.send_event(&event).await.is_ok() {
                sent += 1;
            }
        }
    }
    info!(
        sent,
        expected_findings = sim.expected_findings().len(),
        "simulation published"
    );
    client.disconnect().await;
    Ok(())
}
