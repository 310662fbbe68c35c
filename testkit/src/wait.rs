//! Waiting for a condition instead of sleeping: a test that expects something to happen polls
//! for it with a deadline, and says what it was waiting for if it never comes.

use std::future::Future;
use std::time::Duration;

/// Polls `check` every 50 ms until it returns true or `timeout` passes; returns the last answer.
pub async fn wait_for<F, Fut>(timeout: Duration, check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    poll_until(timeout, Duration::from_millis(50), check).await
}

/// Polls `check` every `every` until it returns true or `timeout` passes; returns the last
/// answer. For checks that are expensive to ask (a Prometheus query, a metrics scrape).
pub async fn poll_until<F, Fut>(timeout: Duration, every: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(every).await;
    }
}
