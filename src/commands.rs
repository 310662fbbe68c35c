//! The subcommands and their flags (each flag also read from the environment).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use tracing::info;

use crate::config::{without_password, Layer, RunSettings, DEFAULT_DATABASE_URL, DEFAULT_LISTEN};
use mintwatch_indexer::analyze::AnalyzeConfig;
use mintwatch_indexer::crawl::CrawlConfig;
use mintwatch_indexer::ingest::IngestConfig;
use mintwatch_indexer::service::{IndexerConfig, RunningIndexer};
use mintwatch_sim::{SimConfig, Simulator};
use mintwatch_store::Store;

/// mintwatch: crawl relays for Cashu mints' announcements and signed spent logs, verify every
/// signature, and find double-spends, forks, gaps, liabilities that do not add up and identities
/// that do not match.
#[derive(Debug, Parser)]
#[command(
    version,
    about,
    after_help = "Settings come from flags, then the environment, then a TOML config file \
                  (--config or MINTWATCH_CONFIG; mintwatch.toml.example documents every key), \
                  then the defaults. `mintwatch run --print-config` shows the result."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Production: crawl the configured relays into PostgreSQL and analyze continuously.
    Run(RunArgs),
    /// Apply the database migrations and exit.
    Migrate(ConfigArgs),
    /// Publish simulated mints (honest and misbehaving) to a relay.
    Simulate(SimulateArgs),
    /// Everything on this machine with nothing but PostgreSQL: a local relay, simulated mints
    /// that keep publishing (one of each misbehaviour within the first minute), the indexer, the
    /// API and the nostr outputs.
    Demo(DemoArgs),
    /// Beside a Cashu mint (nutshell or cdk-mintd): publish its identity and its spent secrets
    /// on nostr, from its own database (`mintwatch gateway key` writes its key file).
    Gateway(crate::gateway::GatewayArgs),
    /// A Cashu wallet whose mint traffic goes over nostr only (Nostr Mint Connect): add a mint
    /// by its key, mint, send, receive, melt, and check a mint's reputation with an indexer.
    Wallet(crate::wallet::WalletArgs),
}

/// `--config` and `--database-url`, for every subcommand that uses the database.
#[derive(Debug, Args)]
struct ConfigArgs {
    /// A TOML config file whose keys mirror the flags (`mintwatch.toml.example` documents every
    /// key). Per key, a flag wins over its environment variable, which wins over the file,
    /// which wins over the default.
    #[arg(long, env = "MINTWATCH_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,
    /// PostgreSQL URL [default: postgres://localhost/mintwatch].
    #[arg(long, env = "DATABASE_URL", value_name = "URL")]
    database_url: Option<String>,
}

impl ConfigArgs {
    /// The config file's keys under these flags.
    fn file_layer(&self) -> anyhow::Result<Layer> {
        Layer::load_optional(self.config.as_deref())
    }
}

#[derive(Debug, Args)]
#[command(
    after_help = "The demo reads `database_url`, `listen` and `key_file` from --config; \
                        its relay is its own."
)]
struct DemoArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Where the HTTP API listens [default: 127.0.0.1:8080].
    #[arg(long, env = "MINTWATCH_LISTEN", value_name = "ADDR:PORT")]
    listen: Option<String>,
    /// The indexer's nostr key file, created with mode 0600 if missing
    /// [default: mintwatch-demo.key].
    #[arg(long, env = "MINTWATCH_KEY_FILE", value_name = "PATH")]
    key_file: Option<PathBuf>,
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
#[command(
    after_help = "Every setting can come from a flag, its environment variable, the \
                        --config file or the default, in that order of precedence."
)]
struct RunArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// A relay to crawl, ws:// or wss:// (repeatable; the environment takes a comma-separated
    /// list). At least one, here or in the config file's `relays`.
    #[arg(
        long = "relay",
        env = "MINTWATCH_RELAYS",
        value_delimiter = ',',
        value_name = "URL"
    )]
    relays: Vec<String>,
    /// Seconds an `e` may name an unseen event before it is reported as a gap [default: 3600].
    #[arg(long, env = "MINTWATCH_GAP_GRACE_SECS", value_name = "SECS")]
    gap_grace_secs: Option<u64>,
    /// Where the HTTP API listens [default: 127.0.0.1:8080].
    #[arg(long, env = "MINTWATCH_LISTEN", value_name = "ADDR:PORT")]
    listen: Option<String>,
    /// The indexer's nostr key file (created with mode 0600 on first start). Without it,
    /// nothing is published on nostr and the query service is off.
    #[arg(long, env = "MINTWATCH_KEY_FILE", value_name = "PATH")]
    key_file: Option<PathBuf>,
    /// Least seconds between two assertions of one mint [default: 600].
    #[arg(long, env = "MINTWATCH_PUBLISH_INTERVAL_SECS", value_name = "SECS")]
    publish_interval_secs: Option<u64>,
    /// Seconds a failing database write or analysis is retried before the process exits
    /// non-zero [default: 120].
    #[arg(long, env = "MINTWATCH_RETRY_SECS", value_name = "SECS")]
    retry_secs: Option<u64>,
    /// Events per stored batch at most [default: 4096].
    #[arg(long, env = "MINTWATCH_BATCH_SIZE", value_name = "N")]
    batch_size: Option<usize>,
    /// Compute ranks as of this unix time instead of now (reproducible ranks).
    #[arg(long, env = "MINTWATCH_RANK_AS_OF", value_name = "UNIX_SECS")]
    rank_as_of: Option<u64>,
    /// Mint keys crawled for kind 1337 at most; further keys are refused [default: 5000].
    #[arg(long, env = "MINTWATCH_MAX_MINT_AUTHORS", value_name = "N")]
    max_mint_authors: Option<usize>,
    /// Print the effective settings (in the config file's format; a database password as `***`)
    /// and exit.
    #[arg(long)]
    print_config: bool,
}

impl RunArgs {
    /// Flags and environment over the config file over the defaults.
    fn settings(&self) -> anyhow::Result<RunSettings> {
        let cli = Layer {
            relays: (!self.relays.is_empty()).then(|| self.relays.clone()),
            database_url: self.config.database_url.clone(),
            listen: self.listen.clone(),
            key_file: self.key_file.clone(),
            gap_grace_secs: self.gap_grace_secs,
            publish_interval_secs: self.publish_interval_secs,
            retry_secs: self.retry_secs,
            batch_size: self.batch_size,
            rank_as_of: self.rank_as_of,
            max_mint_authors: self.max_mint_authors,
        };
        RunSettings::resolve(cli.over(self.config.file_layer()?))
    }
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
        Command::Migrate(args) => {
            let url = Layer {
                database_url: args.database_url.clone(),
                ..Layer::default()
            }
            .over(args.file_layer()?)
            .database_url
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string());
            let store = connect(&url).await?;
            info!("migrations applied");
            store.close().await;
            Ok(())
        }
        Command::Run(args) => {
            let settings = args.settings()?;
            if args.print_config {
                print!("{}", settings.to_toml()?);
                return Ok(());
            }
            run_indexer(settings).await
        }
        Command::Simulate(args) => simulate(args).await,
        Command::Gateway(args) => crate::gateway::run(args).await,
        Command::Wallet(args) => crate::wallet::run(args).await,
        Command::Demo(args) => {
            let layer = Layer {
                database_url: args.config.database_url.clone(),
                listen: args.listen.clone(),
                key_file: args.key_file.clone(),
                ..Layer::default()
            }
            .over(args.config.file_layer()?);
            crate::demo::run(crate::demo::DemoConfig {
                database_url: layer
                    .database_url
                    .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string()),
                listen: layer.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_string()),
                key_file: layer
                    .key_file
                    .unwrap_or_else(|| PathBuf::from("mintwatch-demo.key")),
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
    let store = Store::connect(url).await.with_context(|| {
        format!(
            "cannot connect to the database at {}",
            without_password(url)
        )
    })?;
    store
        .migrate()
        .await
        .context("cannot migrate the database")?;
    Ok(store)
}

async fn run_indexer(args: RunSettings) -> anyhow::Result<()> {
    let store = connect(&args.database_url).await?;
    let config = IndexerConfig {
        crawl: CrawlConfig {
            relays: args.relays.clone(),
            max_mint_authors: args.max_mint_authors,
            ..CrawlConfig::default()
        },
        analyze: AnalyzeConfig {
            gap_grace: Duration::from_secs(args.gap_grace_secs),
            as_of: args.rank_as_of,
            ..AnalyzeConfig::default()
        },
        ingest: IngestConfig {
            retry_for: Duration::from_secs(args.retry_secs),
            batch_size: args.batch_size,
            ..IngestConfig::default()
        },
        ..IndexerConfig::default()
    };
    // The recorder first: a count the indexer makes before it exists is lost (a retry in the
    // first batch was missing from /metrics).
    let metrics = mintwatch_api::metrics_recorder().context("metrics recorder")?;
    let indexer = RunningIndexer::start(store.clone(), config)
        .await
        .context("cannot start the indexer")?;
    let keys = match &args.key_file {
        Some(path) => Some(mintwatch_api::nostr::load_or_create_key(path).context("indexer key")?),
        None => None,
    };
    let state = mintwatch_api::ApiState::new(store.clone(), metrics)
        .with_live_stats(mintwatch::live::live_stats(&indexer))
        .with_readiness(mintwatch::live::readiness(&indexer))
        .with_site(mintwatch_api::web::SiteInfo {
            indexer_key: keys.as_ref().map(|k| k.public_key().to_hex()),
            relays: args.relays.clone(),
        });
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let bound = listener
        .local_addr()
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let http = tokio::spawn(mintwatch_api::serve(listener, state, async {
        let _ = http_stopped.await;
    }));
    let nostr = match keys {
        Some(keys) => {
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
    info!(relays = ?args.relays, listen = %bound, nostr = nostr.is_some(),
          "mintwatch running; Ctrl-C or SIGTERM stops it");
    let failed = tokio::select! {
        _ = crate::shutdown::signal() => None,
        why = indexer.failed() => Some(why),
    };
    if let Some(why) = failed {
        // Ingest gave up (it retried for retry_secs): serving data that no longer changes would
        // look alive, so the process stops and says why.
        tracing::error!(cause = %why, "the indexer stopped; exiting");
        let _ = stop_http.send(());
        let _ = http.await;
        if let Some(nostr) = nostr {
            nostr.stop().await;
        }
        let _ = indexer.stop().await;
        anyhow::bail!("the indexer stopped: {why}");
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]

    use clap::CommandFactory;

    use super::Cli;
    use crate::config::{
        DEFAULT_DATABASE_URL, DEFAULT_GAP_GRACE_SECS, DEFAULT_LISTEN, DEFAULT_PUBLISH_INTERVAL_SECS,
    };

    /// The defaults are applied after the config file, so clap cannot show them itself: the
    /// help text states them, and must state the ones the code uses.
    #[test]
    fn run_help_states_the_defaults_the_code_applies() {
        let mut cli = Cli::command();
        let help = cli
            .find_subcommand_mut("run")
            .expect("run")
            .render_help()
            .to_string();
        for default in [
            format!("[default: {DEFAULT_DATABASE_URL}]"),
            format!("[default: {DEFAULT_LISTEN}]"),
            format!("[default: {DEFAULT_GAP_GRACE_SECS}]"),
            format!("[default: {DEFAULT_PUBLISH_INTERVAL_SECS}]"),
        ] {
            assert!(
                help.contains(&default),
                "`run --help` lacks {default}:\n{help}"
            );
        }
        for key in ["--config", "MINTWATCH_CONFIG", "--print-config"] {
            assert!(help.contains(key), "`run --help` lacks {key}");
        }
    }
}
