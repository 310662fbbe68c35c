//! Paging a filter backwards in time with `until` + `limit`, without loops and without gaps.
//!
//! A page asks for `until = U` (inclusive) and `limit = L`; relays answer newest first. When
//! the page ends at an older second `O < U`, every second in `(O, U]` is complete, and the next
//! page asks again for `until = O` and skips the ids of second `O` it already delivered (the
//! "boundary"). When a whole page falls in the single second `U` (more events share that second
//! than fit in a page), asking for `until = U` again would return the same page forever and
//! asking for `until = U - 1` would skip the rest of the second, so the pager *drains* the
//! second instead: `since = until = U` with a limit doubled until the relay returns fewer events
//! than asked for (the second is complete) or the limit reaches `max_drain` (the relay caps its
//! answers; the rest of that second is given up, logged and counted). Then it moves on to
//! `until = U - 1` with an empty boundary. The walk ends on an empty page.
//!
//! A relay that caps `limit` below what it was asked without saying so can make a drain look
//! complete; nothing in NIP-01 lets a client detect that, so it is accepted.

use std::collections::HashSet;

/// What an event seen on a page is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offer {
    /// New: deliver it.
    Deliver,
    /// Already delivered by the previous request at the boundary second.
    Duplicate,
    /// Outside the requested window (a misbehaving relay).
    OutOfRange,
}

/// What a finished request leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Ask for the next request.
    Continue,
    /// The walk reached the end (an empty page, or below `since`).
    Done,
    /// The relay would not return the whole of this second; its remainder was skipped.
    Capped(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Page,
    Drain { limit: usize },
}

/// The window of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) since: Option<u64>,
    pub(crate) until: u64,
    pub(crate) limit: usize,
}

/// One backwards walk over one filter.
#[derive(Debug)]
pub(crate) struct Pager {
    since: Option<u64>,
    until: u64,
    page_size: usize,
    max_drain: usize,
    mode: Mode,
    /// Ids at second `until` already delivered.
    boundary: HashSet<[u8; 32]>,
    /// Everything created at or after this second has been delivered.
    covered_from: Option<u64>,
    done: bool,
    // The request in flight.
    seen: usize,
    oldest: Option<u64>,
    oldest_ids: Vec<[u8; 32]>,
}

impl Pager {
    /// A walk from `until` (inclusive) down to `since` (inclusive, or the beginning of time).
    pub(crate) fn new(since: Option<u64>, until: u64, page_size: usize, max_drain: usize) -> Self {
        let page_size = page_size.max(1);
        Self {
            since,
            until,
            page_size,
            max_drain: max_drain.max(page_size),
            mode: Mode::Page,
            boundary: HashSet::new(),
            covered_from: None,
            done: since.is_some_and(|s| s > until),
            seen: 0,
            oldest: None,
            oldest_ids: Vec::new(),
        }
    }

    /// Whether the walk is over.
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// The lowest second from which everything has been delivered, if any page completed.
    pub(crate) fn covered_from(&self) -> Option<u64> {
        self.covered_from
    }

    /// The next request.
    pub(crate) fn window(&self) -> Window {
        match self.mode {
            Mode::Page => Window {
                since: self.since,
                until: self.until,
                limit: self.page_size,
            },
            Mode::Drain { limit } => Window {
                since: Some(self.until),
                until: self.until,
                limit,
            },
        }
    }

    /// Forgets the request in flight (the relay closed it); the same window is asked again.
    pub(crate) fn restart_request(&mut self) {
        self.seen = 0;
        self.oldest = None;
        self.oldest_ids.clear();
    }

    /// Takes note of one event of the request in flight.
    pub(crate) fn offer(&mut self, id: [u8; 32], created_at: u64) -> Offer {
        let w = self.window();
        if created_at > w.until || w.since.is_some_and(|s| created_at < s) {
            return Offer::OutOfRange;
        }
        self.seen += 1;
        match self.oldest {
            Some(o) if created_at > o => {}
            Some(o) if created_at == o => self.oldest_ids.push(id),
            _ => {
                self.oldest = Some(created_at);
                self.oldest_ids.clear();
                self.oldest_ids.push(id);
            }
        }
        if created_at == self.until && !self.boundary.insert(id) {
            return Offer::Duplicate;
        }
        Offer::Deliver
    }

    /// The request in flight is finished (EOSE): decides the next one.
    pub(crate) fn finish(&mut self) -> Step {
        let seen = std::mem::take(&mut self.seen);
        let oldest = self.oldest.take();
        let oldest_ids = std::mem::take(&mut self.oldest_ids);
        match self.mode {
            Mode::Page => match oldest {
                None => {
                    self.done = true;
                    Step::Done
                }
                Some(o) if o < self.until => {
                    self.covered_from = Some(o + 1);
                    self.until = o;
                    self.boundary = oldest_ids.into_iter().collect();
                    Step::Continue
                }
                Some(_) => {
                    // The whole page is one second: drain it.
                    let limit = self.page_size.saturating_mul(2).min(self.max_drain);
                    if limit <= self.page_size {
                        return self.second_complete(true);
                    }
                    self.mode = Mode::Drain { limit };
                    Step::Continue
                }
            },
            Mode::Drain { limit } => {
                if seen < limit {
                    self.second_complete(false)
                } else if limit >= self.max_drain {
                    self.second_complete(true)
                } else {
                    self.mode = Mode::Drain {
                        limit: limit.saturating_mul(2).min(self.max_drain),
                    };
                    Step::Continue
                }
            }
        }
    }

    fn second_complete(&mut self, capped: bool) -> Step {
        let second = self.until;
        self.covered_from = Some(second);
        self.mode = Mode::Page;
        self.boundary.clear();
        if second == 0 || self.since.is_some_and(|s| s >= second) {
            self.done = true;
            return if capped {
                Step::Capped(second)
            } else {
                Step::Done
            };
        }
        self.until = second - 1;
        if capped {
            Step::Capped(second)
        } else {
            Step::Continue
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> [u8; 32] {
        let mut b = [0u8; 32];
        b[..4].copy_from_slice(&n.to_be_bytes());
        b
    }

    /// A relay in memory: events sorted newest first, then by id, as nostr-relay-builder does.
    fn answer(events: &[(u32, u64)], w: Window) -> Vec<(u32, u64)> {
        let mut v: Vec<_> = events
            .iter()
            .copied()
            .filter(|&(_, t)| t <= w.until && w.since.is_none_or(|s| t >= s))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(id(a.0).cmp(&id(b.0))));
        v.truncate(w.limit);
        v
    }

    fn walk(events: &[(u32, u64)], page: usize, max_drain: usize) -> (Vec<u32>, usize) {
        let mut p = Pager::new(None, 1_000, page, max_drain);
        let mut got = Vec::new();
        let mut requests = 0;
        while !p.is_done() {
            requests += 1;
            assert!(requests < 10_000, "walk does not end");
            for (n, t) in answer(events, p.window()) {
                if p.offer(id(n), t) == Offer::Deliver {
                    got.push(n);
                }
            }
            p.finish();
        }
        (got, requests)
    }

    #[test]
    fn crowded_seconds_are_walked_exactly_once() {
        let mut events = Vec::new();
        let mut n = 0;
        for (t, count) in [(900u64, 3), (800, 37), (799, 1), (700, 10), (5, 11), (0, 4)] {
            for _ in 0..count {
                events.push((n, t));
                n += 1;
            }
        }
        for page in [1, 2, 3, 5, 10, 100] {
            let (mut got, _) = walk(&events, page, 1_000);
            got.sort_unstable();
            let want: Vec<u32> = (0..n).collect();
            assert_eq!(got, want, "page size {page}");
        }
    }

    #[test]
    fn capped_second_moves_on() {
        let events: Vec<(u32, u64)> = (0..50).map(|n| (n, 10)).chain([(99, 9)]).collect();
        let mut p = Pager::new(None, 20, 5, 20);
        let mut steps = Vec::new();
        let mut got = 0;
        while !p.is_done() {
            for (n, t) in answer(&events, p.window()) {
                if p.offer(id(n), t) == Offer::Deliver {
                    got += 1;
                }
            }
            steps.push(p.finish());
        }
        assert!(steps.contains(&Step::Capped(10)));
        // 20 of second 10 (the cap) and the one of second 9.
        assert_eq!(got, 21);
    }

    #[test]
    fn since_bounds_the_walk() {
        let events: Vec<(u32, u64)> = (0..30).map(|n| (n, 100 + u64::from(n))).collect();
        let mut p = Pager::new(Some(120), 200, 4, 100);
        let mut got = Vec::new();
        while !p.is_done() {
            for (n, t) in answer(&events, p.window()) {
                if p.offer(id(n), t) == Offer::Deliver {
                    got.push(n);
                }
            }
            p.finish();
        }
        got.sort_unstable();
        assert_eq!(got, (20..30).collect::<Vec<u32>>());
        assert_eq!(p.offer(id(1), 300), Offer::OutOfRange);
    }
}
