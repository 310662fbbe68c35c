//! A token bucket on the messages of one relay. Over the rate, the relay task stops reading (TCP
//! pushes back on the relay) instead of dropping events: a flood costs the relay time, not us
//! memory or evidence.

use std::time::Duration;

use tokio::time::Instant;

/// What taking a token did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Take {
    /// Under the rate.
    Free,
    /// Over the rate: the task slept; `episode_start` is true for the first message of a flood
    /// episode (so a flood is counted once per episode, not once per message).
    Throttled { episode_start: bool },
}

#[derive(Debug)]
pub(crate) struct Throttle {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
    flooding: bool,
}

impl Throttle {
    pub(crate) fn new(per_second: u32, burst: u32) -> Self {
        let rate = f64::from(per_second.max(1));
        let burst = f64::from(burst.max(1));
        Self {
            rate,
            burst,
            tokens: burst,
            last: Instant::now(),
            flooding: false,
        }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
    }

    /// Takes one token, sleeping when the bucket is empty.
    pub(crate) async fn take(&mut self) -> Take {
        self.refill();
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            // A full bucket again means the flood is over.
            if self.tokens >= self.burst - 1.0 {
                self.flooding = false;
            }
            return Take::Free;
        }
        let episode_start = !self.flooding;
        self.flooding = true;
        let wait = (1.0 - self.tokens) / self.rate;
        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        self.refill();
        self.tokens = (self.tokens - 1.0).max(0.0);
        Take::Throttled { episode_start }
    }
}
