//! Crawl: read relay websockets (backfill, then live), hand raw events to the pipeline.
//!
//! Crawl reads websockets itself (tokio-tungstenite) rather than through a nostr client pool,
//! because a pool verifies every event on its own, one at a time, and drops events when its
//! consumer lags; here an event is handed on as the verbatim JSON slice of the relay's message,
//! unverified, and verification runs in parallel later. Every send into the pipeline waits when
//! the channel is full, and a relay task that waits stops reading its socket, so memory stays
//! bounded and the relay is slowed down through TCP.
//!
//! One task per relay, one websocket per task, several subscriptions on it:
//! - `public`: kinds 38172, 38173, 38000, 5, 11467, 4919 from everyone;
//! - `mint-authors`: kind 1337 from the keys in [`KnownMints`] (chunked into several
//!   subscriptions when long). A later stage adds keys; each relay task then re-subscribes with
//!   the grown list (new live subscriptions are opened before the old ones are closed, so no
//!   event falls between them) and walks the history of the new keys only.
//!
//! Per filter and connection: a *live* subscription (`since` = connect time minus the overlap,
//! `limit` 0: only new events), a *catch-up* walk from the connect time down to the last
//! `newest_seen` minus the overlap (what was missed while disconnected), and a *backfill* walk
//! from `backfill_until` down to the beginning (see `crawl/paging.rs` for how a walk pages without
//! looping or skipping when many events share one second).
//!
//! Cursor semantics ([`Cursor`], one per relay and filter, sent on the same channel after the
//! events it covers, after every page and every `cursor_interval` while live):
//! - `backfill_until = Some(t)`: every event created at or after `t` up to the top of the first
//!   backfill page has been delivered; a restart pages on from `until = t - 1`;
//! - `newest_seen`: the newest `created_at` delivered while the coverage above it was
//!   contiguous (during a catch-up walk it stays at the old value, so a restart in the middle of
//!   a catch-up does not skip the hole); a restart catches up from `newest_seen - overlap`.
//!
//! The `mint-authors` cursor cannot say which keys it covers, and a key can become known
//! just before a shutdown, before its history was walked. So on start the `mint-authors`
//! backfill always walks the whole history again for every known key (kind 1337 from mint
//! keys is sparse, and dedup drops the repeats); while a walk for new keys is pending its
//! cursor reports `backfill_until = None, backfill_done = false`.

mod known_mints;
mod paging;
mod relay_task;
mod stats;
mod throttle;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::pipeline::{Cursor, Delivery, RelayUrl};

pub use known_mints::KnownMints;
pub use stats::{ConnState, CrawlStats, RelayStatsSnapshot};

/// Stable labels of [`Delivery::Rejected`] and of the per-relay rejection counters.
pub mod reason {
    /// Not JSON, not a NIP-01 relay message, an unknown message type, a binary frame, or an
    /// event without a readable id, pubkey, kind and `created_at`.
    pub const GARBAGE: &str = "garbage";
    /// A message larger than [`super::CrawlConfig::max_message_bytes`].
    pub const OVERSIZED: &str = "oversized";
    /// An event that does not match the subscription it came on (kind, author, time window).
    pub const FILTER_MISMATCH: &str = "filter_mismatch";
    /// An event on a subscription crawl never opened.
    pub const UNKNOWN_SUBSCRIPTION: &str = "unknown_subscription";
    /// The relay sent faster than [`super::CrawlConfig::max_events_per_sec`]; counted once
    /// per flood episode (the relay task then reads at the limit).
    pub const FLOOD: &str = "flood";

    /// Every reason.
    pub const ALL: [&str; 5] = [
        GARBAGE,
        OVERSIZED,
        FILTER_MISMATCH,
        UNKNOWN_SUBSCRIPTION,
        FLOOD,
    ];
}

/// The name of the filter for everyone's events.
pub const PUBLIC_FILTER: &str = "public";
/// The name of the filter for kind 1337 from known mint keys.
pub const MINT_AUTHORS_FILTER: &str = "mint-authors";

/// How crawl behaves. [`Default`] gives production values.
#[derive(Debug, Clone)]
pub struct CrawlConfig {
    /// Relay URLs (`ws://` or `wss://`), one task each.
    pub relays: Vec<String>,
    /// `limit` of a backfill page.
    pub page_size: usize,
    /// Largest `limit` used to drain one crowded second (see `crawl/paging.rs`).
    pub max_drain_limit: usize,
    /// First wait before reconnecting.
    pub backoff_initial: Duration,
    /// Longest wait before reconnecting.
    pub backoff_max: Duration,
    /// Largest message accepted (an event of at most 512 KiB plus the message envelope);
    /// larger ones are refused as `oversized` and the connection goes on.
    pub max_message_bytes: usize,
    /// Largest websocket message read at all; beyond it the connection is dropped.
    pub hard_max_message_bytes: usize,
    /// Messages per second read from one relay before throttling.
    pub max_events_per_sec: u32,
    /// Messages read at full speed before the rate applies.
    pub burst: u32,
    /// Live subscriptions and catch-up walks start this much earlier than needed, for events
    /// whose `created_at` lags their arrival; the repeats are removed by dedup.
    pub overlap: Duration,
    /// How often a cursor is sent while live (when it changed).
    pub cursor_interval: Duration,
    /// Longest wait for a connection.
    pub connect_timeout: Duration,
    /// Longest silence on a page before the connection is considered stuck.
    pub page_timeout: Duration,
    /// How often to ping the relay; a connection silent for three intervals is dropped.
    pub ping_interval: Duration,
    /// Authors per `mint-authors` subscription.
    pub authors_per_filter: usize,
    /// Mint keys crawled for kind 1337 at most (so `mint-authors` subscriptions per relay at
    /// most this over `authors_per_filter`); further keys are refused and counted.
    pub max_mint_authors: usize,
    /// Wait after [`KnownMints`] grows before re-subscribing, so a burst of new keys costs
    /// one re-subscription.
    pub resubscribe_delay: Duration,
    /// Wait before asking again for a subscription the relay CLOSED.
    pub closed_retry_delay: Duration,
    /// CLOSED answers to one subscription before the connection is dropped (and retried with
    /// backoff).
    pub closed_retries: u32,
    /// How often backfill progress is logged per walk.
    pub progress_interval: Duration,
}

impl Default for CrawlConfig {
    fn default() -> Self {
        Self {
            relays: Vec::new(),
            page_size: 500,
            max_drain_limit: 8_000,
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            max_message_bytes: mintwatch_protocol::kinds::MAX_EVENT_JSON_BYTES + 16 * 1024,
            hard_max_message_bytes: 16 * 1024 * 1024,
            max_events_per_sec: 5_000,
            burst: 10_000,
            overlap: Duration::from_secs(120),
            cursor_interval: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(15),
            page_timeout: Duration::from_secs(60),
            ping_interval: Duration::from_secs(30),
            authors_per_filter: 250,
            max_mint_authors: 5_000,
            resubscribe_delay: Duration::from_secs(2),
            closed_retry_delay: Duration::from_secs(5),
            closed_retries: 3,
            progress_interval: Duration::from_secs(10),
        }
    }
}

/// Crawls the configured relays; see the module documentation.
#[derive(Debug)]
pub struct Crawler {
    config: Arc<CrawlConfig>,
    relays: Vec<RelayUrl>,
    cursors: HashMap<(RelayUrl, String), Cursor>,
    known: KnownMints,
    stats: CrawlStats,
}

impl Crawler {
    /// A crawler resuming from stored cursors (cursors of relays not configured are ignored).
    pub fn new(config: CrawlConfig, initial_cursors: Vec<Cursor>) -> Self {
        let mut seen = BTreeSet::new();
        let relays: Vec<RelayUrl> = config
            .relays
            .iter()
            .filter(|r| seen.insert(r.as_str()))
            .map(|r| RelayUrl::from(r.as_str()))
            .collect();
        let cursors = initial_cursors
            .into_iter()
            .map(|c| ((c.relay.clone(), c.filter.clone()), c))
            .collect();
        let stats = CrawlStats::new(
            relays
                .iter()
                .map(|r| Arc::new(stats::RelayStats::new(r.clone())))
                .collect(),
        );
        let known = KnownMints::with_cap(config.max_mint_authors);
        Self {
            config: Arc::new(config),
            relays,
            cursors,
            known,
            stats,
        }
    }

    /// The shared set of mint keys whose kind 1337 events are crawled; a later stage adds the
    /// keys it verified (and the store's known keys should be added before [`Crawler::run`]).
    pub fn known_mints(&self) -> KnownMints {
        self.known.clone()
    }

    /// Per-relay state and counters.
    pub fn stats(&self) -> CrawlStats {
        self.stats.clone()
    }

    /// Crawls until `shutdown` becomes `true` (or its sender is dropped), or until the
    /// pipeline's receiver is dropped. A relay's failures never end the others.
    pub async fn run(self, out: mpsc::Sender<Delivery>, shutdown: watch::Receiver<bool>) {
        let mut tasks = JoinSet::new();
        for relay_stats in self.stats.relay_stats() {
            let url = relay_stats.relay.clone();
            let cursor = |name: &str| self.cursors.get(&(url.clone(), name.to_string())).cloned();
            let task = relay_task::RelayTask::new(
                url.clone(),
                self.config.clone(),
                out.clone(),
                self.known.clone(),
                relay_stats.clone(),
                shutdown.clone(),
                cursor(PUBLIC_FILTER),
                cursor(MINT_AUTHORS_FILTER),
            );
            tasks.spawn(task.run());
        }
        drop(out);
        tracing::info!(relays = self.relays.len(), "crawl started");
        while let Some(done) = tasks.join_next().await {
            if let Err(e) = done {
                tracing::error!("a relay task failed: {e}");
            }
        }
        tracing::info!("crawl stopped");
    }
}
