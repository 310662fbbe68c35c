//! Token buckets per requester key, so that one requester cannot take a nostr service (the
//! indexer's query service, a gateway's NMC) from the others, and one for all requesters
//! together, since a fresh key costs nothing. The caller gives the time: no clock is read here.
//!
//! A requester over its rate is told so once (`RATE_LIMITED`), then ignored until its bucket
//! has a token again: answering every refused request would make the service an amplifier (each
//! answer is signed and encrypted).

use std::collections::HashMap;
use std::time::Instant;

/// A requester's allowance: `burst` requests at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Requests a requester may send at once.
    pub burst: u32,
    /// Requests per second refilled.
    pub per_second: f64,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            burst: 20,
            per_second: 2.0,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
    /// Told `RATE_LIMITED` since its last admitted request.
    told: bool,
}

/// What to do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Answer it.
    Admit,
    /// Over the requester's rate, the first time since its last admitted request: answer
    /// `RATE_LIMITED`.
    Refuse,
    /// Over the rate again (or over the global rate): no answer at all.
    Ignore,
}

/// Past this many tracked requesters, full buckets are forgotten (a full bucket is the same as
/// no bucket), so many one-off requesters cannot grow the map without end.
const PRUNE_ABOVE: usize = 10_000;

/// One bucket per requester.
#[derive(Debug)]
pub struct TokenBuckets {
    limit: RateLimit,
    buckets: HashMap<[u8; 32], Bucket>,
}

impl TokenBuckets {
    /// Empty buckets (every requester starts with a full one).
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: HashMap::new(),
        }
    }

    fn refill(limit: &RateLimit, b: &mut Bucket, now: Instant) {
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * limit.per_second).min(f64::from(limit.burst));
        b.at = now;
    }

    /// Takes one token of `who`'s bucket; false when it is empty (the request is over the rate).
    pub fn allow(&mut self, who: &[u8; 32], now: Instant) -> bool {
        if self.buckets.len() > PRUNE_ABOVE {
            let limit = self.limit;
            self.buckets.retain(|_, b| {
                Self::refill(&limit, b, now);
                b.tokens < f64::from(limit.burst)
            });
        }
        let limit = self.limit;
        let b = self.buckets.entry(*who).or_insert(Bucket {
            tokens: f64::from(limit.burst),
            at: now,
            told: false,
        });
        Self::refill(&limit, b, now);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            b.told = false;
            true
        } else {
            false
        }
    }

    /// [`TokenBuckets::allow`], saying whether a refused requester is to be told: the first
    /// refusal after an admitted request is, the next ones are not.
    pub fn verdict(&mut self, who: &[u8; 32], now: Instant) -> Verdict {
        if self.allow(who, now) {
            return Verdict::Admit;
        }
        match self.buckets.get_mut(who) {
            Some(b) if !b.told => {
                b.told = true;
                Verdict::Refuse
            }
            _ => Verdict::Ignore,
        }
    }
}

/// One token bucket for all requesters together.
#[derive(Debug)]
pub struct GlobalBucket {
    limit: RateLimit,
    bucket: Bucket,
}

impl GlobalBucket {
    /// A full bucket.
    pub fn new(limit: RateLimit, now: Instant) -> Self {
        Self {
            limit,
            bucket: Bucket {
                tokens: f64::from(limit.burst),
                at: now,
                told: false,
            },
        }
    }

    /// Takes one token; false when the service as a whole is over its rate.
    pub fn allow(&mut self, now: Instant) -> bool {
        TokenBuckets::refill(&self.limit, &mut self.bucket, now);
        if self.bucket.tokens >= 1.0 {
            self.bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_then_refill_per_requester() {
        let mut t = TokenBuckets::new(RateLimit {
            burst: 3,
            per_second: 1.0,
        });
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let t0 = Instant::now();
        let allowed = (0..5).filter(|_| t.allow(&a, t0)).count();
        assert_eq!(allowed, 3);
        assert!(t.allow(&b, t0), "another requester has its own bucket");
        assert!(!t.allow(&a, t0 + Duration::from_millis(500)));
        assert!(t.allow(&a, t0 + Duration::from_millis(1600)));
    }

    #[test]
    fn a_requester_over_its_rate_is_told_once_then_ignored_until_it_may_ask_again() {
        let mut t = TokenBuckets::new(RateLimit {
            burst: 2,
            per_second: 1.0,
        });
        let a = [1u8; 32];
        let t0 = Instant::now();
        let verdicts: Vec<Verdict> = (0..6).map(|_| t.verdict(&a, t0)).collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Admit,
                Verdict::Admit,
                Verdict::Refuse,
                Verdict::Ignore,
                Verdict::Ignore,
                Verdict::Ignore
            ]
        );
        // A token later: admitted, and the next refusal is told again.
        assert_eq!(
            t.verdict(&a, t0 + Duration::from_millis(1100)),
            Verdict::Admit
        );
        assert_eq!(
            t.verdict(&a, t0 + Duration::from_millis(1100)),
            Verdict::Refuse
        );
    }

    #[test]
    fn the_global_bucket_bounds_every_requester_together() {
        let t0 = Instant::now();
        let mut g = GlobalBucket::new(
            RateLimit {
                burst: 10,
                per_second: 5.0,
            },
            t0,
        );
        assert_eq!((0..25).filter(|_| g.allow(t0)).count(), 10);
        assert!(g.allow(t0 + Duration::from_millis(250)));
        assert!(!g.allow(t0 + Duration::from_millis(250)));
    }
}
