//! Per-relay connection state and counters, readable at any time for metrics and `/stats`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::pipeline::RelayUrl;

/// Where a relay task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnState {
    /// Opening the websocket.
    Connecting,
    /// Websocket open, subscriptions not yet sent.
    Connected,
    /// At least one backfill or catch-up walk is still paging.
    Backfilling,
    /// Every walk is done; only live subscriptions remain.
    Live,
    /// Waiting before the next connection attempt.
    Backoff,
    /// The task ended (shutdown).
    Stopped,
}

impl ConnState {
    /// A stable label for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Connected => "connected",
            Self::Backfilling => "backfilling",
            Self::Live => "live",
            Self::Backoff => "backoff",
            Self::Stopped => "stopped",
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Connecting,
            1 => Self::Connected,
            2 => Self::Backfilling,
            3 => Self::Live,
            4 => Self::Backoff,
            _ => Self::Stopped,
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            Self::Connecting => 0,
            Self::Connected => 1,
            Self::Backfilling => 2,
            Self::Live => 3,
            Self::Backoff => 4,
            Self::Stopped => 5,
        }
    }
}

/// Live counters of one relay, updated by its task.
#[derive(Debug)]
pub(crate) struct RelayStats {
    pub(crate) relay: RelayUrl,
    state: AtomicU8,
    pub(crate) connects: AtomicU64,
    pub(crate) disconnects: AtomicU64,
    pub(crate) messages: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) events: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    pub(crate) notices: AtomicU64,
    pub(crate) closed: AtomicU64,
    pub(crate) author_filters_refused: AtomicU64,
    pub(crate) auth_challenges: AtomicU64,
    /// Oldest second a backfill walk of this relay has fully covered (0 = none yet).
    pub(crate) oldest_reached: AtomicU64,
    rejections: Mutex<BTreeMap<&'static str, u64>>,
    last_error: Mutex<Option<String>>,
}

impl RelayStats {
    pub(crate) fn new(relay: RelayUrl) -> Self {
        Self {
            relay,
            state: AtomicU8::new(ConnState::Connecting.to_u8()),
            connects: AtomicU64::new(0),
            disconnects: AtomicU64::new(0),
            messages: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            events: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            notices: AtomicU64::new(0),
            closed: AtomicU64::new(0),
            author_filters_refused: AtomicU64::new(0),
            auth_challenges: AtomicU64::new(0),
            oldest_reached: AtomicU64::new(0),
            rejections: Mutex::new(BTreeMap::new()),
            last_error: Mutex::new(None),
        }
    }

    pub(crate) fn set_state(&self, state: ConnState) {
        self.state.store(state.to_u8(), Ordering::Relaxed);
    }

    pub(crate) fn state(&self) -> ConnState {
        ConnState::from_u8(self.state.load(Ordering::Relaxed))
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn reject(&self, reason: &'static str) {
        *self
            .rejections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(reason)
            .or_insert(0) += 1;
        metrics::counter!(
            "mintwatch_crawl_rejections_total",
            "relay" => self.relay.to_string(),
            "reason" => reason
        )
        .increment(1);
    }

    pub(crate) fn set_error(&self, error: Option<String>) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = error;
    }

    pub(crate) fn snapshot(&self) -> RelayStatsSnapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let oldest = load(&self.oldest_reached);
        RelayStatsSnapshot {
            relay: self.relay.clone(),
            state: self.state(),
            connects: load(&self.connects),
            disconnects: load(&self.disconnects),
            messages: load(&self.messages),
            bytes: load(&self.bytes),
            events: load(&self.events),
            duplicates: load(&self.duplicates),
            notices: load(&self.notices),
            closed: load(&self.closed),
            author_filters_refused: load(&self.author_filters_refused),
            auth_challenges: load(&self.auth_challenges),
            oldest_reached: (oldest > 0).then_some(oldest),
            rejections: self
                .rejections
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }
}

/// A copy of one relay's state and counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayStatsSnapshot {
    /// The relay.
    pub relay: RelayUrl,
    /// Its connection state.
    pub state: ConnState,
    /// Websocket connections opened.
    pub connects: u64,
    /// Connections lost or refused (each one is followed by a backoff).
    pub disconnects: u64,
    /// Websocket messages received.
    pub messages: u64,
    /// Bytes of text messages received.
    pub bytes: u64,
    /// Events handed to the pipeline.
    pub events: u64,
    /// Events skipped because a page boundary already delivered them.
    pub duplicates: u64,
    /// NOTICE messages received.
    pub notices: u64,
    /// Subscriptions the relay CLOSED.
    pub closed: u64,
    /// `mint-authors` subscriptions given up after the relay CLOSED them past the retries (the
    /// connection is kept for the public filter).
    pub author_filters_refused: u64,
    /// NIP-42 AUTH challenges received (ignored).
    pub auth_challenges: u64,
    /// Oldest `created_at` second a backfill walk has fully covered.
    pub oldest_reached: Option<u64>,
    /// Refusals by reason label (see [`super::reason`]).
    pub rejections: BTreeMap<&'static str, u64>,
    /// The error that ended the last connection, if any.
    pub last_error: Option<String>,
}

impl RelayStatsSnapshot {
    /// Refusals counted under one reason label.
    pub fn rejected(&self, reason: &str) -> u64 {
        self.rejections.get(reason).copied().unwrap_or(0)
    }
}

/// A handle on every relay's state and counters.
#[derive(Debug, Clone)]
pub struct CrawlStats {
    relays: Arc<Vec<Arc<RelayStats>>>,
}

impl CrawlStats {
    pub(crate) fn new(relays: Vec<Arc<RelayStats>>) -> Self {
        // Export every refusal counter at zero from the start, so dashboards and alerts see the
        // series before the first refusal.
        for r in &relays {
            for reason in super::reason::ALL {
                metrics::counter!(
                    "mintwatch_crawl_rejections_total",
                    "relay" => r.relay.to_string(),
                    "reason" => reason
                )
                .increment(0);
            }
        }
        Self {
            relays: Arc::new(relays),
        }
    }

    pub(crate) fn relay_stats(&self) -> impl Iterator<Item = &Arc<RelayStats>> {
        self.relays.iter()
    }

    /// A snapshot of every relay, in configuration order.
    pub fn snapshot(&self) -> Vec<RelayStatsSnapshot> {
        self.relays.iter().map(|r| r.snapshot()).collect()
    }

    /// A snapshot of one relay, by its configured URL.
    pub fn relay(&self, url: &str) -> Option<RelayStatsSnapshot> {
        self.relays
            .iter()
            .find(|r| &*r.relay == url)
            .map(|r| r.snapshot())
    }
}
