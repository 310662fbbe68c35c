//! Subscriptions of one connection: what a REQ asks for (kinds, an author chunk, a time window),
//! whether an event fits it, opening and closing them, the set a connection starts with, and
//! widening `mint-authors` when keys become known.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use mintwatch_protocol::relay_message::EventHead;
use mintwatch_protocol::MintKey;
use tokio::time::Instant;

use super::progress::FilterId;
use super::session::Session;
use super::walks::Purpose;
use super::{unix_now, End, FUTURE_SLACK};

/// Sub ids of closed subscriptions remembered, so late events on them are not taken for a
/// relay's misbehaviour.
const CLOSED_MEMORY: usize = 256;

/// A set of authors of one `mint-authors` subscription.
#[derive(Debug)]
pub(super) struct Chunk {
    pub(super) hex: Vec<String>,
    pub(super) keys: HashSet<[u8; 32]>,
}

impl Chunk {
    pub(super) fn split(keys: &BTreeSet<MintKey>, per: usize) -> Vec<Arc<Chunk>> {
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
pub(super) enum Role {
    Walk(u64),
    Live(FilterId),
}

#[derive(Debug, Clone)]
pub(super) struct Sub {
    pub(super) role: Role,
    pub(super) kinds: &'static [u16],
    pub(super) authors: Option<Arc<Chunk>>,
    pub(super) since: Option<u64>,
    pub(super) until: Option<u64>,
    pub(super) limit: usize,
    /// A page must make progress before this.
    pub(super) deadline: Option<Instant>,
    pub(super) closed_count: u32,
}

impl Sub {
    pub(super) fn matches(&self, h: &EventHead) -> bool {
        self.kinds.contains(&h.kind)
            && self
                .authors
                .as_ref()
                .is_none_or(|a| a.keys.contains(&h.pubkey))
            && self.since.is_none_or(|s| h.created_at >= s)
            && self.until.is_none_or(|u| h.created_at <= u)
    }

    pub(super) fn req(&self, id: &str) -> String {
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

impl Session<'_> {
    pub(super) async fn open(&mut self, sub: Sub) -> Result<String, End> {
        self.next_id += 1;
        let id = format!("mw{}", self.next_id);
        let req = sub.req(&id);
        self.subs.insert(id.clone(), sub);
        self.send_text(req).await?;
        Ok(id)
    }

    pub(super) async fn close_sub(&mut self, id: &str) -> Result<(), End> {
        if self.subs.remove(id).is_none() {
            return Ok(());
        }
        self.remember_closed(id.to_string());
        self.send_text(serde_json::json!(["CLOSE", id]).to_string())
            .await
    }

    pub(super) fn remember_closed(&mut self, id: String) {
        if self.closed_set.insert(id.clone()) {
            self.closed.push_back(id);
        }
        while self.closed.len() > CLOSED_MEMORY {
            if let Some(old) = self.closed.pop_front() {
                self.closed_set.remove(&old);
            }
        }
    }

    pub(super) fn live_sub(&self, filter: FilterId, authors: Option<Arc<Chunk>>, now: u64) -> Sub {
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
    pub(super) async fn start(&mut self) -> Result<(), End> {
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

    /// Widens `mint-authors` to the keys that became known.
    pub(super) async fn resubscribe_mints(&mut self) -> Result<(), End> {
        if self.mint_authors_refused {
            return Ok(());
        }
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
}
