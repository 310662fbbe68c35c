//! One relay: reconnect with backoff, and per connection run the subscriptions and walks of both
//! filters over one websocket.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::{SinkExt, StreamExt};
use mintwatch_protocol::{kinds, MintKey};
use rand::Rng;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, Instant};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::known_mints::KnownMints;
use super::paging::{Offer, Pager, Step};
use super::stats::{ConnState, RelayStats};
use super::throttle::{Take, Throttle};
use super::{reason, CrawlConfig, MINT_AUTHORS_FILTER, PUBLIC_FILTER};
use crate::pipeline::{Cursor, Delivery, RelayUrl};
use mintwatch_protocol::relay_message::{EventHead, RelayMessage, Unreadable};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const PUBLIC_KINDS: &[u16] = &kinds::READ_FROM_ANYONE;
const MINT_KINDS: &[u16] = &[kinds::FIN_EPOCH];
/// Sub ids of closed subscriptions remembered, so late events on them are not taken for a
/// relay's misbehaviour.
const CLOSED_MEMORY: usize = 256;
/// Walks start this far in the future: events stamped a little ahead of our clock (relays
/// commonly accept up to 15 minutes) would otherwise fall above the first page of a walk and
/// below a live subscription that only sees new arrivals.
const FUTURE_SLACK: u64 = 15 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum FilterId {
    Public,
    MintAuthors,
}

impl FilterId {
    fn name(self) -> &'static str {
        match self {
            Self::Public => PUBLIC_FILTER,
            Self::MintAuthors => MINT_AUTHORS_FILTER,
        }
    }

    fn kinds(self) -> &'static [u16] {
        match self {
            Self::Public => PUBLIC_KINDS,
            Self::MintAuthors => MINT_KINDS,
        }
    }
}

/// How far one filter got on this relay; survives reconnects.
#[derive(Debug, Default)]
struct Progress {
    backfill_until: Option<u64>,
    backfill_done: bool,
    newest_seen: Option<u64>,
    /// A catch-up walk is running: newest events go to `catchup_newest` until it ends.
    catchup_active: bool,
    catchup_newest: Option<u64>,
    /// Changed since the last cursor was sent.
    dirty: bool,
}

impl Progress {
    fn from_cursor(cursor: Option<Cursor>) -> Self {
        let mut p = Self::default();
        if let Some(c) = cursor {
            p.backfill_until = c.backfill_until;
            // `Some(0)` covers everything there is.
            p.backfill_done = c.backfill_done || c.backfill_until == Some(0);
            p.newest_seen = c.newest_seen;
        }
        p
    }

    fn saw(&mut self, created_at: u64) {
        let slot = if self.catchup_active {
            &mut self.catchup_newest
        } else {
            &mut self.newest_seen
        };
        if slot.is_none_or(|n| created_at > n) {
            *slot = Some(created_at);
            self.dirty = true;
        }
    }
}

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

/// A set of authors of one `mint-authors` subscription.
#[derive(Debug)]
struct Chunk {
    hex: Vec<String>,
    keys: HashSet<[u8; 32]>,
}

impl Chunk {
    fn split(keys: &BTreeSet<MintKey>, per: usize) -> Vec<Arc<Chunk>> {
        let keys: Vec<&MintKey> = keys.iter().collect();
        keys.chunks(per.max(1))
            .map(|c| {
                Arc::new(Chunk {
                    hex: c.iter().map(|k| k.to_hex()).collect(),
                    keys: c.iter().map(|k| *k.as_bytes()).collect(),
                })
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Backfill,
    CatchUp,
    /// History of keys that became known during this connection.
    NewAuthors,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Backfill => "backfill",
            Self::CatchUp => "catch-up",
            Self::NewAuthors => "new-authors",
        }
    }
}

/// A walk of one filter: one pager per author chunk, one after the other.
#[derive(Debug)]
struct Walk {
    filter: FilterId,
    purpose: Purpose,
    chunks: Vec<Option<Arc<Chunk>>>,
    idx: usize,
    since: Option<u64>,
    top: u64,
    pager: Pager,
    started: Instant,
    last_log: Instant,
    delivered: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Walk(u64),
    Live(FilterId),
}

#[derive(Debug, Clone)]
struct Sub {
    role: Role,
    kinds: &'static [u16],
    authors: Option<Arc<Chunk>>,
    since: Option<u64>,
    until: Option<u64>,
    limit: usize,
    /// A page must make progress before this.
    deadline: Option<Instant>,
    closed_count: u32,
}

impl Sub {
    fn matches(&self, h: &EventHead) -> bool {
        self.kinds.contains(&h.kind)
            && self
                .authors
                .as_ref()
                .is_none_or(|a| a.keys.contains(&h.pubkey))
            && self.since.is_none_or(|s| h.created_at >= s)
            && self.until.is_none_or(|u| h.created_at <= u)
    }

    fn req(&self, id: &str) -> String {
        let mut f = serde_json::Map::new();
        f.insert("kinds".into(), serde_json::json!(self.kinds));
        if let Some(a) = &self.authors {
            f.insert("authors".into(), serde_json::json!(a.hex));
        }
        if let Some(s) = self.since {
            f.insert("since".into(), s.into());
        }
        if let Some(u) = self.until {
            f.insert("until".into(), u.into());
        }
        f.insert("limit".into(), self.limit.into());
        serde_json::json!(["REQ", id, f]).to_string()
    }
}

/// One websocket connection.
struct Session<'a> {
    task: &'a mut RelayTask,
    ws: Ws,
    subs: HashMap<String, Sub>,
    closed: VecDeque<String>,
    closed_set: HashSet<String>,
    walks: HashMap<u64, Walk>,
    next_id: u64,
    live_mint_subs: Vec<String>,
    mints_subscribed: BTreeSet<MintKey>,
    pending_new: BTreeSet<MintKey>,
    new_authors_walk: bool,
    resubscribe_at: Option<Instant>,
    retries: Vec<(Instant, Sub)>,
    healthy: bool,
    last_rx: Instant,
    next_ping: Instant,
    next_cursor: Instant,
}

impl<'a> Session<'a> {
    fn new(task: &'a mut RelayTask, ws: Ws) -> Self {
        let now = Instant::now();
        Self {
            next_ping: now + task.cfg.ping_interval,
            next_cursor: now + task.cfg.cursor_interval,
            task,
            ws,
            subs: HashMap::new(),
            closed: VecDeque::new(),
            closed_set: HashSet::new(),
            walks: HashMap::new(),
            next_id: 0,
            live_mint_subs: Vec::new(),
            mints_subscribed: BTreeSet::new(),
            pending_new: BTreeSet::new(),
            new_authors_walk: false,
            resubscribe_at: None,
            retries: Vec::new(),
            healthy: false,
            last_rx: now,
        }
    }

    fn cfg(&self) -> &CrawlConfig {
        &self.task.cfg
    }

    fn overlap(&self) -> u64 {
        self.cfg().overlap.as_secs()
    }

    async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.ws.close(None)).await;
    }

    async fn send_text(&mut self, text: String) -> Result<(), End> {
        self.ws
            .send(Message::text(text))
            .await
            .map_err(|e| End::Error(format!("send: {e}")))
    }

    async fn open(&mut self, sub: Sub) -> Result<String, End> {
        self.next_id += 1;
        let id = format!("mw{}", self.next_id);
        let req = sub.req(&id);
        self.subs.insert(id.clone(), sub);
        self.send_text(req).await?;
        Ok(id)
    }

    async fn close_sub(&mut self, id: &str) -> Result<(), End> {
        if self.subs.remove(id).is_none() {
            return Ok(());
        }
        self.remember_closed(id.to_string());
        self.send_text(serde_json::json!(["CLOSE", id]).to_string())
            .await
    }

    fn remember_closed(&mut self, id: String) {
        if self.closed_set.insert(id.clone()) {
            self.closed.push_back(id);
        }
        while self.closed.len() > CLOSED_MEMORY {
            if let Some(old) = self.closed.pop_front() {
                self.closed_set.remove(&old);
            }
        }
    }

    fn live_sub(&self, filter: FilterId, authors: Option<Arc<Chunk>>, now: u64) -> Sub {
        Sub {
            role: Role::Live(filter),
            kinds: filter.kinds(),
            authors,
            since: Some(now.saturating_sub(self.overlap())),
            until: None,
            // Only events that arrive from now on; the walks cover the past.
            limit: 0,
            deadline: None,
            closed_count: 0,
        }
    }

    /// Subscribes everything this connection needs.
    async fn start(&mut self) -> Result<(), End> {
        let now = unix_now();
        let top = now + FUTURE_SLACK;
        let overlap = self.overlap();
        let live = self.live_sub(FilterId::Public, None, now);
        self.open(live).await?;

        // public: catch up on what was missed since the last connection, then backfill on.
        let p = &self.task.public;
        let has_coverage = p.backfill_until.is_some() || p.backfill_done;
        let catchup_since = p
            .newest_seen
            .or(p.backfill_until)
            .map(|t| t.saturating_sub(overlap));
        let backfill_from = if p.backfill_done {
            None
        } else {
            Some(match p.backfill_until {
                Some(b) => b.saturating_sub(1),
                None => top,
            })
        };
        if has_coverage {
            self.start_walk(
                FilterId::Public,
                Purpose::CatchUp,
                vec![None],
                catchup_since,
                top,
            )
            .await?;
        }
        if let Some(top) = backfill_from {
            self.start_walk(FilterId::Public, Purpose::Backfill, vec![None], None, top)
                .await?;
        }

        // mint-authors.
        // Marked seen before the snapshot: a key added in between wakes the resubscribe path
        // (which finds nothing new) rather than being missed.
        self.task.known_rx.mark_unchanged();
        let keys = self.task.known.snapshot();
        self.mints_subscribed = keys.clone();
        if keys.is_empty() {
            self.task.mints.backfill_done = true;
            self.task.mints_outstanding = false;
        } else {
            let chunks = Chunk::split(&keys, self.cfg().authors_per_filter);
            for c in &chunks {
                let live = self.live_sub(FilterId::MintAuthors, Some(c.clone()), now);
                let id = self.open(live).await?;
                self.live_mint_subs.push(id);
            }
            let walk_chunks: Vec<Option<Arc<Chunk>>> = chunks.into_iter().map(Some).collect();
            let m = &mut self.task.mints;
            if m.backfill_done && !self.task.mints_outstanding {
                let since = m.newest_seen.map(|t| t.saturating_sub(overlap));
                self.start_walk(
                    FilterId::MintAuthors,
                    Purpose::CatchUp,
                    walk_chunks,
                    since,
                    top,
                )
                .await?;
            } else {
                m.backfill_done = false;
                m.backfill_until = None;
                self.task.mints_outstanding = false;
                self.start_walk(
                    FilterId::MintAuthors,
                    Purpose::Backfill,
                    walk_chunks,
                    None,
                    top,
                )
                .await?;
            }
        }
        self.update_state();
        Ok(())
    }

    async fn start_walk(
        &mut self,
        filter: FilterId,
        purpose: Purpose,
        chunks: Vec<Option<Arc<Chunk>>>,
        since: Option<u64>,
        top: u64,
    ) -> Result<(), End> {
        if purpose == Purpose::CatchUp {
            let p = self.task.progress(filter);
            p.catchup_active = true;
            p.catchup_newest = None;
        }
        self.next_id += 1;
        let wid = self.next_id;
        let now = Instant::now();
        let walk = Walk {
            filter,
            purpose,
            chunks,
            idx: 0,
            since,
            top,
            pager: Pager::new(since, top, self.cfg().page_size, self.cfg().max_drain_limit),
            started: now,
            last_log: now,
            delivered: 0,
        };
        tracing::info!(
            relay = %self.task.url, filter = filter.name(), walk = purpose.as_str(),
            since, until = top, "walk started"
        );
        self.walks.insert(wid, walk);
        self.request_page(wid).await
    }

    async fn request_page(&mut self, wid: u64) -> Result<(), End> {
        let Some(walk) = self.walks.get(&wid) else {
            return Ok(());
        };
        let w = walk.pager.window();
        let sub = Sub {
            role: Role::Walk(wid),
            kinds: walk.filter.kinds(),
            authors: walk.chunks.get(walk.idx).cloned().flatten(),
            since: w.since,
            until: Some(w.until),
            limit: w.limit,
            deadline: Some(Instant::now() + self.cfg().page_timeout),
            closed_count: 0,
        };
        self.open(sub).await.map(|_| ())
    }

    fn update_state(&self) {
        self.task.stats.set_state(if self.walks.is_empty() {
            ConnState::Live
        } else {
            ConnState::Backfilling
        });
    }

    fn next_wake(&self) -> Instant {
        let mut t = self.next_ping.min(self.next_cursor);
        t = t.min(self.last_rx + self.cfg().ping_interval * 3);
        if let Some(r) = self.resubscribe_at {
            t = t.min(r);
        }
        for s in self.subs.values() {
            if let Some(d) = s.deadline {
                t = t.min(d);
            }
        }
        for (at, _) in &self.retries {
            t = t.min(*at);
        }
        t
    }

    async fn serve(&mut self) -> End {
        match self.serve_inner().await {
            Ok(()) => End::Stop,
            Err(e) => e,
        }
    }

    async fn serve_inner(&mut self) -> Result<(), End> {
        self.start().await?;
        loop {
            let wake = self.next_wake();
            tokio::select! {
                _ = shutdown_requested(&mut self.task.shutdown) => return Err(End::Stop),
                msg = self.ws.next() => match msg {
                    Some(Ok(m)) => self.on_ws_message(m).await?,
                    Some(Err(e)) => {
                        use tokio_tungstenite::tungstenite::Error as WsError;
                        if matches!(e, WsError::Capacity(_)) {
                            self.task.reject(reason::OVERSIZED).await?;
                        } else if matches!(e, WsError::Utf8) {
                            self.task.reject(reason::GARBAGE).await?;
                        }
                        return Err(End::Error(format!("read: {e}")));
                    }
                    None => return Err(End::Error("closed by relay".into())),
                },
                changed = self.task.known_rx.changed() => {
                    if changed.is_ok() && self.resubscribe_at.is_none() {
                        self.resubscribe_at = Some(Instant::now() + self.cfg().resubscribe_delay);
                    }
                }
                _ = sleep_until(wake) => self.on_timer().await?,
            }
        }
    }

    async fn on_timer(&mut self) -> Result<(), End> {
        let now = Instant::now();
        if now >= self.last_rx + self.cfg().ping_interval * 3 {
            return Err(End::Error("relay silent".into()));
        }
        if self
            .subs
            .values()
            .any(|s| s.deadline.is_some_and(|d| now >= d))
        {
            return Err(End::Error("a page timed out".into()));
        }
        if now >= self.next_ping {
            self.next_ping = now + self.cfg().ping_interval;
            self.ws
                .send(Message::Ping(Vec::new().into()))
                .await
                .map_err(|e| End::Error(format!("ping: {e}")))?;
        }
        if now >= self.next_cursor {
            self.next_cursor = now + self.cfg().cursor_interval;
            for f in [FilterId::Public, FilterId::MintAuthors] {
                if self.task.progress(f).dirty {
                    self.task.emit_cursor(f).await?;
                }
            }
        }
        if self.resubscribe_at.is_some_and(|t| now >= t) {
            self.resubscribe_at = None;
            self.resubscribe_mints().await?;
        }
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.retries)
            .into_iter()
            .partition(|(at, _)| now >= *at);
        self.retries = later;
        for (_, mut sub) in due {
            if let Role::Walk(wid) = sub.role {
                if !self.walks.contains_key(&wid) {
                    continue;
                }
            }
            sub.deadline = sub.deadline.map(|_| now + self.cfg().page_timeout);
            let live_mints = sub.role == Role::Live(FilterId::MintAuthors);
            let id = self.open(sub).await?;
            if live_mints {
                self.live_mint_subs.push(id);
            }
        }
        Ok(())
    }

    /// Widens `mint-authors` to the keys that became known.
    async fn resubscribe_mints(&mut self) -> Result<(), End> {
        let known = self.task.known.snapshot();
        let new: BTreeSet<MintKey> = known.difference(&self.mints_subscribed).copied().collect();
        if new.is_empty() {
            return Ok(());
        }
        tracing::info!(
            relay = %self.task.url, new = new.len(), total = known.len(),
            "mint keys learned; re-subscribing mint-authors"
        );
        self.mints_subscribed = known.clone();
        self.task.mints_outstanding = true;
        self.task.mints.dirty = true;
        // New live subscriptions first, then close the old ones: no instant without one.
        let now = unix_now();
        let old = std::mem::take(&mut self.live_mint_subs);
        for c in Chunk::split(&known, self.cfg().authors_per_filter) {
            let live = self.live_sub(FilterId::MintAuthors, Some(c), now);
            let id = self.open(live).await?;
            self.live_mint_subs.push(id);
        }
        for id in old {
            self.close_sub(&id).await?;
        }
        self.pending_new.extend(new);
        if !self.new_authors_walk {
            self.start_new_authors_walk(now + FUTURE_SLACK).await?;
        }
        self.update_state();
        Ok(())
    }

    async fn start_new_authors_walk(&mut self, top: u64) -> Result<(), End> {
        let keys = std::mem::take(&mut self.pending_new);
        if keys.is_empty() {
            self.new_authors_walk = false;
            self.task.mints_outstanding = false;
            self.task.mints.dirty = true;
            return Ok(());
        }
        self.new_authors_walk = true;
        let chunks = Chunk::split(&keys, self.cfg().authors_per_filter)
            .into_iter()
            .map(Some)
            .collect();
        self.start_walk(
            FilterId::MintAuthors,
            Purpose::NewAuthors,
            chunks,
            None,
            top,
        )
        .await
    }

    async fn on_ws_message(&mut self, msg: Message) -> Result<(), End> {
        self.last_rx = Instant::now();
        RelayStats::bump(&self.task.stats.messages);
        let text = match msg {
            Message::Text(t) => t,
            Message::Binary(_) => return self.task.reject(reason::GARBAGE).await,
            Message::Close(_) => return Err(End::Error("closed by relay".into())),
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => return Ok(()),
        };
        self.task
            .stats
            .bytes
            .fetch_add(text.len() as u64, std::sync::atomic::Ordering::Relaxed);
        if let Take::Throttled {
            episode_start: true,
        } = self.task.throttle.take().await
        {
            tracing::warn!(relay = %self.task.url, "relay floods; throttling");
            self.task.reject(reason::FLOOD).await?;
        }
        let oversized = text.len() > self.cfg().max_message_bytes;
        let parsed = RelayMessage::parse(text.as_str());
        if oversized {
            // Still let the pager count it, so a refused event cannot end a walk early.
            if let Ok(RelayMessage::Event { sub, event }) = &parsed {
                if let (Some(s), Some(h)) = (self.subs.get(sub), EventHead::parse(event)) {
                    if let Role::Walk(wid) = s.role {
                        if s.matches(&h) {
                            if let Some(w) = self.walks.get_mut(&wid) {
                                w.pager.offer(h.id, h.created_at);
                            }
                        }
                    }
                }
            }
            return self.task.reject(reason::OVERSIZED).await;
        }
        match parsed {
            Err(Unreadable::Malformed | Unreadable::UnknownType) => {
                self.task.reject(reason::GARBAGE).await
            }
            Ok(RelayMessage::Event { sub, event }) => {
                let json: Box<str> = event.get().into();
                match EventHead::parse(event) {
                    Some(head) => self.on_event(&sub, head, json).await,
                    None => self.task.reject(reason::GARBAGE).await,
                }
            }
            Ok(RelayMessage::Eose(sub)) => self.on_eose(&sub).await,
            Ok(RelayMessage::Closed(sub, why)) => self.on_closed(sub, &why).await,
            Ok(RelayMessage::Notice(n)) => {
                RelayStats::bump(&self.task.stats.notices);
                tracing::info!(relay = %self.task.url, notice = %n, "NOTICE");
                Ok(())
            }
            Ok(RelayMessage::Auth) => {
                RelayStats::bump(&self.task.stats.auth_challenges);
                tracing::debug!(relay = %self.task.url, "AUTH challenge ignored (NIP-42 not used)");
                Ok(())
            }
            Ok(RelayMessage::Ignored) => Ok(()),
        }
    }

    async fn on_event(&mut self, sub_id: &str, head: EventHead, json: Box<str>) -> Result<(), End> {
        let Some(sub) = self.subs.get_mut(sub_id) else {
            if self.closed_set.contains(sub_id) {
                // A late event of a subscription just closed: not the relay's fault.
                return Ok(());
            }
            return self.task.reject(reason::UNKNOWN_SUBSCRIPTION).await;
        };
        if !sub.matches(&head) {
            return self.task.reject(reason::FILTER_MISMATCH).await;
        }
        if let Some(d) = sub.deadline.as_mut() {
            *d = Instant::now() + self.task.cfg.page_timeout;
        }
        let filter = match sub.role {
            Role::Live(f) => f,
            Role::Walk(wid) => {
                let Some(walk) = self.walks.get_mut(&wid) else {
                    return Ok(());
                };
                match walk.pager.offer(head.id, head.created_at) {
                    Offer::Deliver => {
                        walk.delivered += 1;
                        walk.filter
                    }
                    Offer::Duplicate => {
                        RelayStats::bump(&self.task.stats.duplicates);
                        return Ok(());
                    }
                    Offer::OutOfRange => return self.task.reject(reason::FILTER_MISMATCH).await,
                }
            }
        };
        self.task.progress(filter).saw(head.created_at);
        RelayStats::bump(&self.task.stats.events);
        let relay = self.task.url.clone();
        self.task.emit(Delivery::Event { relay, json }).await
    }

    async fn on_eose(&mut self, sub_id: &str) -> Result<(), End> {
        let Some(sub) = self.subs.get(sub_id) else {
            return Ok(());
        };
        let Role::Walk(wid) = sub.role else {
            return Ok(());
        };
        self.healthy = true;
        self.close_sub(sub_id).await?;
        let Some(walk) = self.walks.get_mut(&wid) else {
            return Ok(());
        };
        let step = walk.pager.finish();
        if let Step::Capped(second) = step {
            tracing::warn!(
                relay = %self.task.url, filter = walk.filter.name(), second,
                "relay would not return every event of one second; skipped the rest of it"
            );
        }
        let (filter, purpose) = (walk.filter, walk.purpose);
        let single = walk.chunks.len() == 1;
        let covered = walk.pager.covered_from();
        let mut finished = false;
        if walk.pager.is_done() {
            if walk.idx + 1 < walk.chunks.len() {
                walk.idx += 1;
                walk.pager = Pager::new(
                    walk.since,
                    walk.top,
                    self.task.cfg.page_size,
                    self.task.cfg.max_drain_limit,
                );
            } else {
                finished = true;
            }
        }
        let now = Instant::now();
        if finished || now.duration_since(walk.last_log) >= self.task.cfg.progress_interval {
            walk.last_log = now;
            let secs = now.duration_since(walk.started).as_secs_f64().max(1e-3);
            tracing::info!(
                relay = %self.task.url, filter = filter.name(), walk = purpose.as_str(),
                events = walk.delivered,
                events_per_sec = (walk.delivered as f64 / secs).round(),
                oldest = covered,
                done = finished,
                "backfill progress"
            );
        }
        if purpose == Purpose::Backfill && single {
            if let Some(c) = covered {
                let p = self.task.progress(filter);
                if p.backfill_until != Some(c) {
                    p.backfill_until = Some(c);
                    p.dirty = true;
                }
                if filter == FilterId::Public {
                    self.task
                        .stats
                        .oldest_reached
                        .store(c, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
        if finished {
            self.walks.remove(&wid);
            self.walk_finished(filter, purpose).await?;
        } else {
            self.request_page(wid).await?;
        }
        self.update_state();
        // After the events it covers, on the same channel.
        self.task.emit_cursor(filter).await
    }

    async fn walk_finished(&mut self, filter: FilterId, purpose: Purpose) -> Result<(), End> {
        let p = self.task.progress(filter);
        p.dirty = true;
        match purpose {
            Purpose::Backfill => p.backfill_done = true,
            Purpose::CatchUp => {
                p.catchup_active = false;
                if let Some(n) = p.catchup_newest.take() {
                    if p.newest_seen.is_none_or(|old| n > old) {
                        p.newest_seen = Some(n);
                    }
                }
            }
            Purpose::NewAuthors => {
                self.new_authors_walk = false;
                self.start_new_authors_walk(unix_now() + FUTURE_SLACK)
                    .await?;
            }
        }
        Ok(())
    }

    async fn on_closed(&mut self, sub_id: String, why: &str) -> Result<(), End> {
        let Some(mut sub) = self.subs.remove(&sub_id) else {
            return Ok(());
        };
        self.live_mint_subs.retain(|id| *id != sub_id);
        self.remember_closed(sub_id);
        RelayStats::bump(&self.task.stats.closed);
        if why.starts_with("auth-required") {
            tracing::info!(relay = %self.task.url, "subscription needs NIP-42 AUTH, which crawl does not do");
        } else {
            tracing::warn!(relay = %self.task.url, reason = why, "subscription CLOSED by relay");
        }
        sub.closed_count += 1;
        if sub.closed_count > self.cfg().closed_retries {
            return Err(End::Error(format!("subscription refused: {why}")));
        }
        if let Role::Walk(wid) = sub.role {
            if let Some(w) = self.walks.get_mut(&wid) {
                w.pager.restart_request();
            }
        }
        let at = Instant::now() + self.cfg().closed_retry_delay * sub.closed_count;
        self.retries.push((at, sub));
        Ok(())
    }
}
