//! One websocket connection: its state, the loop that waits on the socket, the shutdown signal,
//! the known-keys watch and the timers, and what the timers do (pings, silence and page
//! timeouts, periodic cursors, subscription retries).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use mintwatch_protocol::MintKey;
use tokio::net::TcpStream;
use tokio::time::{sleep_until, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::progress::FilterId;
use super::subscriptions::{Role, Sub};
use super::walks::Walk;
use super::{shutdown_requested, End, RelayTask};
use crate::crawl::reason;
use crate::crawl::stats::ConnState;
use crate::crawl::CrawlConfig;

pub(super) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One websocket connection.
pub(super) struct Session<'a> {
    pub(super) task: &'a mut RelayTask,
    pub(super) ws: Ws,
    pub(super) subs: HashMap<String, Sub>,
    pub(super) closed: VecDeque<String>,
    pub(super) closed_set: HashSet<String>,
    pub(super) walks: HashMap<u64, Walk>,
    pub(super) next_id: u64,
    pub(super) live_mint_subs: Vec<String>,
    pub(super) mints_subscribed: BTreeSet<MintKey>,
    pub(super) pending_new: BTreeSet<MintKey>,
    pub(super) new_authors_walk: bool,
    /// The relay CLOSED a `mint-authors` subscription: no more widening on this connection.
    pub(super) mint_authors_refused: bool,
    pub(super) resubscribe_at: Option<Instant>,
    pub(super) retries: Vec<(Instant, Sub)>,
    pub(super) healthy: bool,
    pub(super) last_rx: Instant,
    pub(super) next_ping: Instant,
    pub(super) next_cursor: Instant,
}

impl<'a> Session<'a> {
    pub(super) fn new(task: &'a mut RelayTask, ws: Ws) -> Self {
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
            mint_authors_refused: false,
            resubscribe_at: None,
            retries: Vec::new(),
            healthy: false,
            last_rx: now,
        }
    }

    pub(super) fn cfg(&self) -> &CrawlConfig {
        &self.task.cfg
    }

    pub(super) fn overlap(&self) -> u64 {
        self.cfg().overlap.as_secs()
    }

    pub(super) async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.ws.close(None)).await;
    }

    pub(super) async fn send_text(&mut self, text: String) -> Result<(), End> {
        self.ws
            .send(Message::text(text))
            .await
            .map_err(|e| End::Error(format!("send: {e}")))
    }

    pub(super) fn update_state(&self) {
        self.task.stats.set_state(if self.walks.is_empty() {
            ConnState::Live
        } else {
            ConnState::Backfilling
        });
    }

    pub(super) fn next_wake(&self) -> Instant {
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

    pub(super) async fn serve(&mut self) -> End {
        match self.serve_inner().await {
            Ok(()) => End::Stop,
            Err(e) => e,
        }
    }

    pub(super) async fn serve_inner(&mut self) -> Result<(), End> {
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

    pub(super) async fn on_timer(&mut self) -> Result<(), End> {
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
}
