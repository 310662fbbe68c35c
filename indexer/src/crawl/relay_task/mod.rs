//! One relay: reconnect with backoff, and per connection run the subscriptions and walks of both
//! filters over one websocket.
//!
//! - `session`: one websocket connection, its wait loop and timers;
//! - `subscriptions`: the REQs of a connection and what each accepts;
//! - `walks`: paging a filter's history, chunk by chunk;
//! - `frames`: each message the relay sends, checked and dispatched;
//! - `progress`: the two filters and how far each got, which survives reconnects.

mod frames;
mod progress;
mod session;
mod subscriptions;
mod walks;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::Rng;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::known_mints::KnownMints;
use super::stats::{ConnState, RelayStats};
use super::throttle::Throttle;
use super::CrawlConfig;
use crate::pipeline::{Cursor, Delivery, RelayUrl};
use progress::{FilterId, Progress};
use session::Session;

/// Walks start this far in the future: events stamped a little ahead of our clock (relays
/// commonly accept up to 15 minutes) would otherwise fall above the first page of a walk and
/// below a live subscription that only sees new arrivals.
const FUTURE_SLACK: u64 = 15 * 60;

/// Why a connection ended.
#[derive(Debug)]
enum End {
    /// Shutdown, or the pipeline is gone: stop the task.
    Stop,
    /// Reconnect after a backoff.
    Error(String),
}

pub(crate) struct RelayTask {
    url: RelayUrl,
    cfg: Arc<CrawlConfig>,
    out: mpsc::Sender<Delivery>,
    known: KnownMints,
    known_rx: watch::Receiver<u64>,
    stats: Arc<RelayStats>,
    shutdown: watch::Receiver<bool>,
    public: Progress,
    mints: Progress,
    /// Keys became known whose history has not been walked yet.
    mints_outstanding: bool,
    throttle: Throttle,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

async fn shutdown_requested(rx: &mut watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

impl RelayTask {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        url: RelayUrl,
        cfg: Arc<CrawlConfig>,
        out: mpsc::Sender<Delivery>,
        known: KnownMints,
        stats: Arc<RelayStats>,
        shutdown: watch::Receiver<bool>,
        public: Option<Cursor>,
        mints: Option<Cursor>,
    ) -> Self {
        let mut mints = Progress::from_cursor(mints);
        // See the module documentation: the mint-authors history is walked again on start.
        mints.backfill_until = None;
        mints.backfill_done = false;
        Self {
            known_rx: known.subscribe(),
            throttle: Throttle::new(cfg.max_events_per_sec, cfg.burst),
            url,
            cfg,
            out,
            known,
            stats,
            shutdown,
            public: Progress::from_cursor(public),
            mints,
            mints_outstanding: false,
        }
    }

    pub(crate) async fn run(mut self) {
        let mut backoff = self.cfg.backoff_initial;
        loop {
            if *self.shutdown.borrow() {
                break;
            }
            self.stats.set_state(ConnState::Connecting);
            let (end, healthy) = self.connect_and_serve().await;
            match end {
                End::Stop => break,
                End::Error(e) => {
                    RelayStats::bump(&self.stats.disconnects);
                    tracing::warn!(relay = %self.url, "relay connection ended: {e}");
                    self.stats.set_error(Some(e));
                }
            }
            if healthy {
                backoff = self.cfg.backoff_initial;
            }
            self.stats.set_state(ConnState::Backoff);
            // Full jitter on the upper half, so relays that dropped together do not come back
            // together.
            let wait = backoff.mul_f64(rand::thread_rng().gen_range(0.5..=1.0));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown_requested(&mut self.shutdown) => break,
            }
            backoff = (backoff * 2).min(self.cfg.backoff_max);
        }
        self.final_cursors().await;
        self.stats.set_state(ConnState::Stopped);
        tracing::info!(relay = %self.url, "relay task stopped");
    }

    /// Connects and serves one websocket; returns how it ended and whether it worked for a
    /// while (which resets the backoff).
    async fn connect_and_serve(&mut self) -> (End, bool) {
        let ws_config = WebSocketConfig::default()
            .max_message_size(Some(self.cfg.hard_max_message_bytes))
            .max_frame_size(Some(self.cfg.hard_max_message_bytes));
        let connect =
            tokio_tungstenite::connect_async_with_config(self.url.as_ref(), Some(ws_config), true);
        let ws = tokio::select! {
            r = tokio::time::timeout(self.cfg.connect_timeout, connect) => match r {
                Ok(Ok((ws, _))) => ws,
                Ok(Err(e)) => return (End::Error(format!("connect: {e}")), false),
                Err(_) => return (End::Error("connect: timed out".into()), false),
            },
            _ = shutdown_requested(&mut self.shutdown) => return (End::Stop, false),
        };
        RelayStats::bump(&self.stats.connects);
        self.stats.set_state(ConnState::Connected);
        self.stats.set_error(None);
        tracing::info!(relay = %self.url, "connected");
        let mut session = Session::new(self, ws);
        let end = session.serve().await;
        let healthy = session.healthy;
        session.close().await;
        (end, healthy)
    }

    fn cursor(&self, filter: FilterId) -> Cursor {
        let p = match filter {
            FilterId::Public => &self.public,
            FilterId::MintAuthors => &self.mints,
        };
        let (backfill_until, backfill_done) =
            if filter == FilterId::MintAuthors && self.mints_outstanding {
                (None, false)
            } else {
                (p.backfill_until, p.backfill_done)
            };
        Cursor {
            relay: self.url.clone(),
            filter: filter.name().to_string(),
            backfill_until,
            backfill_done,
            newest_seen: p.newest_seen,
        }
    }

    fn progress(&mut self, filter: FilterId) -> &mut Progress {
        match filter {
            FilterId::Public => &mut self.public,
            FilterId::MintAuthors => &mut self.mints,
        }
    }

    /// Sends into the pipeline, waiting while it is full.
    async fn emit(&mut self, d: Delivery) -> Result<(), End> {
        tokio::select! {
            r = self.out.send(d) => r.map_err(|_| End::Stop),
            _ = shutdown_requested(&mut self.shutdown) => Err(End::Stop),
        }
    }

    async fn emit_cursor(&mut self, filter: FilterId) -> Result<(), End> {
        self.progress(filter).dirty = false;
        let c = self.cursor(filter);
        self.emit(Delivery::Cursor(c)).await
    }

    async fn reject(&mut self, why: &'static str) -> Result<(), End> {
        self.stats.reject(why);
        tracing::debug!(relay = %self.url, reason = why, "refused");
        self.emit(Delivery::Rejected {
            relay: self.url.clone(),
            reason: why,
        })
        .await
    }

    /// Best effort on the way out: the pipeline may already be gone.
    async fn final_cursors(&mut self) {
        for filter in [FilterId::Public, FilterId::MintAuthors] {
            if !self.progress(filter).dirty {
                continue;
            }
            let c = self.cursor(filter);
            let send = self.out.send(Delivery::Cursor(c));
            let _ = tokio::time::timeout(Duration::from_secs(1), send).await;
        }
    }
}
