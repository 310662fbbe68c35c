//! Token buckets per requester key, so that one requester cannot take the query service from
//! the others.

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
        });
        Self::refill(&limit, b, now);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
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
}
