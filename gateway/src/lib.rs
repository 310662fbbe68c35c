//! `mintwatch gateway`: runs beside an unmodified Cashu mint (nutshell or cdk-mintd) and puts it
//! on nostr. It checks that its key is the mint's (`/v1/info` `pubkey`), publishes the mint's
//! identity (11467) and NIP-87 announcement (38172), and publishes the mint's spent secrets and
//! issued signatures from the mint's own database as chained 4919 batches, closing the epoch of a
//! deactivated keyset with a 1337 (PROTOCOL.md §2.2). Every event is stored in the gateway's
//! state before it is sent, so each entry is published exactly once across restarts.
//!
//! Layout: `mintdb` reads the mint's database, `feed` turns it into events, `state` is the
//! outbox, `relay` sends it, `identity` checks the key, `http` serves `/metrics` and `/readyz`,
//! `telemetry` declares every metric.

pub mod answers;
pub mod batch;
pub mod error;
pub mod feed;
pub mod http;
pub mod identity;
pub mod key;
pub mod mintdb;
pub mod nmc;
pub mod relay;
pub mod state;
pub mod telemetry;

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nostr::{JsonUtil, Keys, Timestamp};
use tokio::sync::watch;
use tracing::{error, info, warn};

pub use error::Error;
pub use mintdb::MintKind;
pub use relay::RelayTiming;

use crate::feed::{FeedProgress, Publisher};
use crate::http::Health;
use crate::relay::Progress;
use crate::state::{Changes, OutEvent, State};

/// Default of `--batch-secs`.
pub const DEFAULT_BATCH_SECS: u64 = 5;
/// Default of `--info-secs`: how often `/v1/info` is checked for changes.
pub const DEFAULT_INFO_SECS: u64 = 60;
/// Default of `--max-lag-secs`: `/readyz` fails beyond this lag.
pub const DEFAULT_MAX_LAG_SECS: u64 = 300;
/// Default of `--max-event-kib`: the 512 KiB of PROTOCOL.md §2.2.
pub const DEFAULT_MAX_EVENT_KIB: usize = 512;

/// Everything the gateway needs, resolved (see the binary for flags, environment and file).
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// The mint's HTTP API.
    pub mint_url: url::Url,
    /// The mint's database: a SQLite file or a `postgres://` URL.
    pub mint_db: String,
    /// The mint kind, when not detected from the schema.
    pub mint_kind: Option<MintKind>,
    /// The mint's nostr key.
    pub keys: Keys,
    /// Relays to publish to (`ws://` or `wss://`).
    pub relays: Vec<String>,
    /// The gateway's state file (SQLite).
    pub state: PathBuf,
    /// Time between two reads of the mint's database.
    pub batch_interval: Duration,
    /// Time between two checks of `/v1/info`.
    pub info_interval: Duration,
    /// `/readyz` fails when the lag passes this.
    pub max_lag: Duration,
    /// Largest event JSON, bytes (at most 512 KiB).
    pub max_event_bytes: usize,
    /// The `n` tag of the 38172 (`mainnet`, `testnet`, `signet`, `regtest`).
    pub network: String,
    /// Where `/metrics` and `/readyz` listen, if anywhere. With an address the gateway installs
    /// its own Prometheus recorder for the process; without one it installs none, and its
    /// metrics go to the process's recorder if there is one (the demo's, beside an indexer).
    pub listen: Option<String>,
    /// Relay retry timing.
    pub relay_timing: RelayTiming,
    /// Serve the mint's API over nostr (NMC), with these settings; `None` turns it off.
    pub nmc: Option<nmc::NmcSettings>,
    /// The local address of the gateway's calls to the mint (`None`: the system's choice).
    pub mint_source: Option<std::net::IpAddr>,
}

/// Runs the gateway until `stop` resolves. Refuses to start when the key is not the mint's.
pub async fn run(config: GatewayConfig, stop: impl Future<Output = ()>) -> Result<(), Error> {
    let handle = match &config.listen {
        Some(_) => Some(telemetry::recorder().map_err(Error::Config)?),
        None => None,
    };
    telemetry::register(&config.relays);
    let health = Arc::new(Health::new(
        i64::try_from(config.max_lag.as_secs()).unwrap_or(i64::MAX),
    ));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    if let (Some(listen), Some(handle)) = (&config.listen, handle) {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        info!(listen = %listener.local_addr()?, "metrics and readiness listening");
        let app = http::router(health.clone(), handle);
        let mut stopped = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.changed().await;
                })
                .await;
        }));
    }
    let result = run_inner(&config, health, stop_rx, &mut tasks, stop).await;
    let _ = stop_tx.send(true);
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    result
}

async fn run_inner(
    config: &GatewayConfig,
    health: Arc<Health>,
    stop_rx: watch::Receiver<bool>,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
    stop: impl Future<Output = ()>,
) -> Result<(), Error> {
    tokio::pin!(stop);
    // One client for every call to the mint (identity and NMC), from `mint_source` if set.
    let http = reqwest::Client::builder()
        .local_address(config.mint_source)
        .build()
        .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
    // The mint may start after its sidecar: wait for it.
    let mut wait = Duration::from_millis(500);
    let info = loop {
        match identity::fetch_info(&http, &config.mint_url).await {
            Ok(info) => break info,
            Err(e) => {
                warn!(error = %e, retry_in = ?wait, "the mint does not answer yet");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = &mut stop => return Ok(()),
                }
                wait = (wait * 2).min(Duration::from_secs(30));
            }
        }
    };
    if let Err(e) = identity::check(&info, &config.keys) {
        error!(error = %e, "refusing to start");
        return Err(e);
    }
    set_identity(&health, true);
    let mint_key = config.keys.public_key().to_hex();
    info!(mint = %mint_key, url = %config.mint_url, "the gateway's key is the mint's");

    let state = State::open(&config.state).await?;
    state.bind_mint(&mint_key).await?;
    let db = Arc::new(mintdb::MintDb::open(&config.mint_db, config.mint_kind).await?);
    info!(kind = db.kind().as_str(), "mint database opened read-only");

    // The outbox can hold millions of entries: read its end, not its contents.
    let last = state.last_seq().await?;
    let (latest_tx, latest_rx) = watch::channel(last);
    publish_info(&state, config, &info, &latest_tx).await?;

    if let Some(settings) = &config.nmc {
        tasks.extend(nmc::start(
            config.keys.clone(),
            http.clone(),
            &config.relays,
            config.mint_url.clone(),
            settings.clone(),
            &stop_rx,
        )?);
    }

    let progress = Arc::new(Progress {
        cursors: config
            .relays
            .iter()
            .map(|r| (r.clone(), AtomicI64::new(0)))
            .collect(),
    });
    for (index, url) in config.relays.iter().enumerate() {
        tasks.push(tokio::spawn(relay::run(
            url.clone(),
            index,
            state.clone(),
            progress.clone(),
            latest_rx.clone(),
            stop_rx.clone(),
            config.relay_timing.clone(),
        )));
    }
    let feed_progress = Arc::new(FeedProgress::default());
    tasks.push(tokio::spawn(monitor_lag(
        state.clone(),
        progress.clone(),
        feed_progress.clone(),
        health.clone(),
        stop_rx.clone(),
    )));
    let mut publisher = Publisher::load(
        db.clone(),
        state.clone(),
        config.keys.clone(),
        config.max_event_bytes,
        latest_tx.clone(),
        feed_progress,
    )
    .await?;

    let mut last_info = info;
    let mut next_info = tokio::time::Instant::now() + config.info_interval;
    loop {
        if health.identity_ok.load(Ordering::Relaxed) {
            match publisher.cycle().await {
                Ok(0) => {}
                Ok(n) => info!(entries = n, "feed cycle stored new entries"),
                Err(e) => error!(error = %e, "feed cycle failed; retrying next interval"),
            }
        }
        if tokio::time::Instant::now() >= next_info {
            next_info = tokio::time::Instant::now() + config.info_interval;
            match identity::fetch_info(&http, &config.mint_url).await {
                Ok(info) if info != last_info => match identity::check(&info, &config.keys) {
                    Ok(()) => {
                        info!("the mint's /v1/info changed; publishing it again");
                        set_identity(&health, true);
                        publish_info(&state, config, &info, &latest_tx).await?;
                        last_info = info;
                    }
                    Err(e) => {
                        error!(error = %e, "publishing stopped until the mint shows this key again");
                        set_identity(&health, false);
                    }
                },
                Ok(_) => {}
                Err(e) => warn!(error = %e, "cannot read the mint's /v1/info"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(config.batch_interval) => {}
            _ = &mut stop => break,
        }
    }
    info!("stopping");
    db.close().await;
    Ok(())
}

fn set_identity(health: &Health, ok: bool) {
    health.identity_ok.store(ok, Ordering::Relaxed);
    ::metrics::gauge!(telemetry::IDENTITY_OK).set(if ok { 1.0 } else { 0.0 });
}

/// Stores the 11467 and the 38172 for `info` in the outbox.
async fn publish_info(
    state: &State,
    config: &GatewayConfig,
    info: &serde_json::Value,
    latest: &watch::Sender<i64>,
) -> Result<(), Error> {
    let last: i64 = state
        .meta("last_info_created")
        .await?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // A replaceable event replaces only an older one: never reuse a second.
    let created = i64::try_from(Timestamp::now().as_secs())
        .unwrap_or(i64::MAX)
        .max(last + 1);
    let at = u64::try_from(created).unwrap_or(0);
    let events = [
        identity::info_event(&config.keys, info, at)?,
        identity::announcement_event(&config.keys, info, &config.mint_url, &config.network, at)?,
    ];
    for event in events {
        let kind = event.kind.as_u16();
        let out = OutEvent {
            id: event.id.to_hex(),
            kind,
            created_at: created,
            entries: 0,
            oldest: None,
            json: event.as_json(),
        };
        let changes = Changes {
            meta: vec![("last_info_created".to_string(), created.to_string())],
            ..Changes::default()
        };
        let seq = state.store(&out, &changes).await?;
        ::metrics::counter!(telemetry::EVENTS_STORED, "kind" => kind.to_string()).increment(1);
        info!(seq, id = %out.id, kind, "identity event stored");
        latest.send_replace(seq);
    }
    Ok(())
}

/// Every second: the lag behind the mint's database (entries not acknowledged by any relay).
async fn monitor_lag(
    state: State,
    relays: Arc<Progress>,
    feed: Arc<FeedProgress>,
    health: Arc<Health>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let best = relays.best();
        if let Ok((unsent, oldest_unsent)) = state.unsent_after(best).await {
            let unstored = feed.unstored_rows.load(Ordering::Relaxed).max(0);
            let oldest = oldest_unsent
                .unwrap_or(i64::MAX)
                .min(feed.oldest_unstored.load(Ordering::Relaxed));
            let now = i64::try_from(Timestamp::now().as_secs()).unwrap_or(i64::MAX);
            let seconds = if oldest == i64::MAX {
                0
            } else {
                (now - oldest).max(0)
            };
            let rows = unsent + unstored;
            health.lag_seconds.store(seconds, Ordering::Relaxed);
            health.lag_rows.store(rows, Ordering::Relaxed);
            ::metrics::gauge!(telemetry::LAG_SECONDS).set(seconds as f64);
            ::metrics::gauge!(telemetry::LAG_ROWS).set(rows as f64);
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
    }
}
