//! Walks: paging one filter's history down a time range (backfill, catch-up, and the history of
//! keys that became known), one author chunk after the other, and what a walk's end means for
//! the filter's progress.

use std::sync::Arc;

use tokio::time::Instant;

use super::progress::FilterId;
use super::session::Session;
use super::subscriptions::{Chunk, Role, Sub};
use super::{unix_now, End, FUTURE_SLACK};
use crate::crawl::paging::{Pager, Step};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    Backfill,
    CatchUp,
    /// History of keys that became known during this connection.
    NewAuthors,
}

impl Purpose {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Backfill => "backfill",
            Self::CatchUp => "catch-up",
            Self::NewAuthors => "new-authors",
        }
    }
}

/// A walk of one filter: one pager per author chunk, one after the other.
#[derive(Debug)]
pub(super) struct Walk {
    pub(super) filter: FilterId,
    pub(super) purpose: Purpose,
    pub(super) chunks: Vec<Option<Arc<Chunk>>>,
    pub(super) idx: usize,
    pub(super) since: Option<u64>,
    pub(super) top: u64,
    pub(super) pager: Pager,
    pub(super) started: Instant,
    pub(super) last_log: Instant,
    pub(super) delivered: u64,
}

impl Session<'_> {
    pub(super) async fn start_walk(
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

    pub(super) async fn request_page(&mut self, wid: u64) -> Result<(), End> {
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

    pub(super) async fn start_new_authors_walk(&mut self, top: u64) -> Result<(), End> {
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

    pub(super) async fn on_eose(&mut self, sub_id: &str) -> Result<(), End> {
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

    pub(super) async fn walk_finished(
        &mut self,
        filter: FilterId,
        purpose: Purpose,
    ) -> Result<(), End> {
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
}
