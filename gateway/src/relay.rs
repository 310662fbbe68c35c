//! One task per relay sends the outbox in order, one event at a time, and moves that relay's
//! cursor when the relay answers `OK true` (or `duplicate:`). `rate-limited:` and `error:` are
//! retried with backoff; an answer that will not change (`blocked:`, `invalid:`, …) is logged,
//! counted and passed. A relay that is down or slow holds back only its own task.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tracing::{debug, info, warn};

use crate::state::{State, Stored};
use crate::telemetry::{self as m, FailureReason};

/// Timing of a relay task.
#[derive(Debug, Clone)]
pub struct RelayTiming {
    /// First wait after a refusal or a lost connection; doubles up to `backoff_max`.
    pub backoff_initial: Duration,
    /// Longest wait between tries.
    pub backoff_max: Duration,
    /// How long to wait for a relay's `OK`.
    pub ok_timeout: Duration,
}

impl Default for RelayTiming {
    fn default() -> Self {
        RelayTiming {
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            ok_timeout: Duration::from_secs(15),
        }
    }
}

/// How far each relay has come through the outbox, shared with the lag monitor.
#[derive(Debug)]
pub struct Progress {
    /// `(relay, cursor)`: the last outbox sequence number each relay has handled.
    pub cursors: Vec<(String, AtomicI64)>,
}

impl Progress {
    /// The furthest cursor: everything up to it reached at least one relay.
    pub fn best(&self) -> i64 {
        self.cursors
            .iter()
            .map(|(_, c)| c.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0)
    }
}

/// What a relay said about one event.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Accepted,
    Retry(FailureReason, String),
    Refused(String),
}

/// Reads an `OK` message's verdict (NIP-01 machine-readable prefixes).
fn classify(accepted: bool, message: &str) -> Answer {
    let prefix = message.split(':').next().unwrap_or("").trim();
    match (accepted, prefix) {
        (true, _) | (false, "duplicate") => Answer::Accepted,
        (false, "rate-limited") => Answer::Retry(FailureReason::RateLimited, message.to_string()),
        (false, "blocked" | "invalid" | "pow" | "restricted" | "auth-required") => {
            Answer::Refused(message.to_string())
        }
        (false, _) => Answer::Retry(FailureReason::Error, message.to_string()),
    }
}

/// Runs one relay's task until `stop` turns true.
pub async fn run(
    url: String,
    index: usize,
    state: State,
    progress: Arc<Progress>,
    mut latest: watch::Receiver<i64>,
    mut stop: watch::Receiver<bool>,
    timing: RelayTiming,
) {
    let fail = |reason: FailureReason| {
        metrics::counter!(m::RELAY_FAILURES, "relay" => url.clone(), "reason" => reason.as_str())
            .increment(1);
    };
    let mut cursor = match state.cursor(&url).await {
        Ok(c) => c,
        Err(e) => {
            warn!(relay = %url, error = %e, "cannot read the relay's cursor; starting from the first event");
            0
        }
    };
    progress.cursors[index].1.store(cursor, Ordering::Relaxed);
    let mut connect_backoff = timing.backoff_initial;
    loop {
        let Some(connected) = connect(&url, &mut stop).await else {
            return;
        };
        let mut ws = match connected {
            Ok(ws) => ws,
            Err(e) => {
                warn!(relay = %url, error = %e, retry_in = ?connect_backoff, "cannot connect");
                fail(FailureReason::Connection);
                if sleep_or_stop(connect_backoff, &mut stop).await {
                    return;
                }
                connect_backoff = (connect_backoff * 2).min(timing.backoff_max);
                continue;
            }
        };
        info!(relay = %url, from_seq = cursor, "connected");
        connect_backoff = timing.backoff_initial;
        let mut retry_backoff = timing.backoff_initial;
        // Send the outbox in order on this connection until it fails.
        loop {
            if *stop.borrow() {
                let _ = ws.close(None).await;
                return;
            }
            let next = match state.next_after(cursor).await {
                Ok(n) => n,
                Err(e) => {
                    warn!(relay = %url, error = %e, "cannot read the outbox");
                    if sleep_or_stop(Duration::from_secs(1), &mut stop).await {
                        return;
                    }
                    continue;
                }
            };
            let Some(event) = next else {
                metrics::gauge!(m::RELAY_PENDING, "relay" => url.clone()).set(0.0);
                // Wait for a new event (or check again each second), answering pings meanwhile.
                tokio::select! {
                    _ = latest.changed() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => {}
                    msg = ws.next() => match msg {
                        Some(Ok(_)) => {}
                        _ => {
                            fail(FailureReason::Connection);
                            break;
                        }
                    },
                }
                continue;
            };
            let pending = (*latest.borrow() - cursor).max(0);
            metrics::gauge!(m::RELAY_PENDING, "relay" => url.clone()).set(pending as f64);
            match send_one(&mut ws, &event, timing.ok_timeout).await {
                Ok(Answer::Accepted) => {
                    if let Err(e) = state.set_cursor(&url, event.seq).await {
                        warn!(relay = %url, error = %e, "cannot record the acknowledgement");
                    }
                    cursor = event.seq;
                    progress.cursors[index].1.store(cursor, Ordering::Relaxed);
                    retry_backoff = timing.backoff_initial;
                    metrics::counter!(m::RELAY_ACKS, "relay" => url.clone()).increment(1);
                    metrics::counter!(m::RELAY_ACKED_ENTRIES, "relay" => url.clone())
                        .increment(u64::try_from(event.entries).unwrap_or(0));
                    debug!(relay = %url, seq = event.seq, id = %event.id, kind = event.kind, "acknowledged");
                }
                Ok(Answer::Retry(reason, message)) => {
                    fail(reason);
                    warn!(relay = %url, seq = event.seq, id = %event.id, %message, retry_in = ?retry_backoff, "relay refused for now");
                    if sleep_or_stop(retry_backoff, &mut stop).await {
                        return;
                    }
                    retry_backoff = (retry_backoff * 2).min(timing.backoff_max);
                }
                Ok(Answer::Refused(message)) => {
                    fail(FailureReason::Refused);
                    warn!(relay = %url, seq = event.seq, id = %event.id, kind = event.kind, %message,
                          "relay refuses this event for good; passing to the next");
                    if let Err(e) = state.set_cursor(&url, event.seq).await {
                        warn!(relay = %url, error = %e, "cannot record the refusal");
                    }
                    cursor = event.seq;
                    progress.cursors[index].1.store(cursor, Ordering::Relaxed);
                }
                Err(reason) => {
                    fail(reason);
                    warn!(relay = %url, seq = event.seq, reason = reason.as_str(), retry_in = ?connect_backoff,
                          "no answer; reconnecting");
                    break;
                }
            }
        }
        let _ = ws.close(None).await;
        if sleep_or_stop(connect_backoff, &mut stop).await {
            return;
        }
        connect_backoff = (connect_backoff * 2).min(timing.backoff_max);
    }
}

/// Connects to `url`, waiting at most 10 s; `None` when `stop` is or turns true first, else
/// the connection or why there is none.
pub(crate) async fn connect(
    url: &str,
    stop: &mut watch::Receiver<bool>,
) -> Option<Result<Ws, String>> {
    if *stop.borrow() {
        return None;
    }
    // Nagle off: an NMC answer is one small frame, and holding it back for the relay's
    // delayed ACK added about 40 ms to every round trip.
    let connecting = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async_with_config(url, None, true),
    );
    tokio::select! {
        c = connecting => Some(match c {
            Ok(Ok((ws, _))) => Ok(ws),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("timed out after 10 s".to_string()),
        }),
        _ = stop.changed() => None,
    }
}

/// A relay connection.
pub(crate) type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Sends one event and waits for the relay's `OK` about it.
async fn send_one(ws: &mut Ws, event: &Stored, timeout: Duration) -> Result<Answer, FailureReason> {
    let frame = format!("[\"EVENT\",{}]", event.json);
    ws.send(Message::text(frame))
        .await
        .map_err(|_| FailureReason::Connection)?;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| FailureReason::Timeout)?;
        let text = match msg {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                return Err(FailureReason::Connection)
            }
            Some(Ok(_)) => continue,
        };
        let Ok(Value::Array(parts)) = serde_json::from_str::<Value>(text.as_str()) else {
            continue;
        };
        match parts.first().and_then(Value::as_str) {
            Some("OK") if parts.get(1).and_then(Value::as_str) == Some(event.id.as_str()) => {
                let accepted = parts.get(2).and_then(Value::as_bool).unwrap_or(false);
                let message = parts.get(3).and_then(Value::as_str).unwrap_or("");
                return Ok(classify(accepted, message));
            }
            Some("NOTICE") => {
                debug!(notice = %text, "relay notice");
            }
            _ => {}
        }
    }
}

/// Sleeps `d`; true if `stop` turned true meanwhile.
pub(crate) async fn sleep_or_stop(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_by_their_prefix() {
        assert_eq!(classify(true, ""), Answer::Accepted);
        assert_eq!(classify(false, "duplicate: have it"), Answer::Accepted);
        assert!(matches!(
            classify(false, "rate-limited: slow down"),
            Answer::Retry(FailureReason::RateLimited, _)
        ));
        assert!(matches!(
            classify(false, "error: database busy"),
            Answer::Retry(FailureReason::Error, _)
        ));
        assert!(matches!(
            classify(false, "something odd"),
            Answer::Retry(FailureReason::Error, _)
        ));
        for p in ["blocked: no", "invalid: bad", "pow: 20", "restricted: paid"] {
            assert!(matches!(classify(false, p), Answer::Refused(_)), "{p}");
        }
    }
}
