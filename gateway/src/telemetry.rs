//! Every metric of the gateway, declared here and nowhere else. Labels are bounded: `relay` takes
//! the configured relays only, `feed` is `mint` or `burn`, `reason` one of [`FailureReason`].

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Entries stored in the outbox, by feed (`mint`, `burn`): counter.
pub const ENTRIES_PUBLISHED: &str = "mintwatch_gateway_entries_published_total";
/// Events stored in the outbox, by kind: counter.
pub const EVENTS_STORED: &str = "mintwatch_gateway_events_stored_total";
/// Events a relay acknowledged (`OK true` or `duplicate:`), by relay: counter.
pub const RELAY_ACKS: &str = "mintwatch_gateway_relay_acks_total";
/// Entries of events a relay acknowledged, by relay: counter.
pub const RELAY_ACKED_ENTRIES: &str = "mintwatch_gateway_relay_acked_entries_total";
/// Failed sends, by relay and reason: counter.
pub const RELAY_FAILURES: &str = "mintwatch_gateway_relay_failures_total";
/// Outbox events a relay has not handled yet, by relay: gauge.
pub const RELAY_PENDING: &str = "mintwatch_gateway_relay_pending_events";
/// Seconds the oldest entry of the mint's database not yet acknowledged by any relay has
/// waited (0 when caught up): gauge.
pub const LAG_SECONDS: &str = "mintwatch_gateway_lag_seconds";
/// Entries of the mint's database not yet acknowledged by any relay: gauge.
pub const LAG_ROWS: &str = "mintwatch_gateway_lag_rows";
/// 1 while the gateway's key is the mint's (`/v1/info` `pubkey`), else 0: gauge.
pub const IDENTITY_OK: &str = "mintwatch_gateway_identity_ok";
/// Rows of the mint's database that cannot be published (bad point, amount, unknown keyset),
/// by feed: counter.
pub const BAD_ROWS: &str = "mintwatch_gateway_bad_rows_total";

/// NMC requests, by outcome (one of [`NMC_OUTCOMES`]): counter.
pub const NMC_REQUESTS: &str = "mintwatch_gateway_nmc_requests_total";

/// What became of an NMC request: answered by the mint; its 4xx/5xx passed on; the mint did not
/// answer; answered with another error (bad request, unknown method, too large); told once it is
/// over its rate; over a rate again, unanswered; delivered again and answered from memory;
/// ignored (not for this mint, expired, too old, forged); dropped because the queue was full.
pub const NMC_OUTCOMES: [&str; 9] = [
    "answered",
    "mint_error",
    "unavailable",
    "refused",
    "rate_limited",
    "over_rate",
    "repeated",
    "ignored",
    "dropped",
];

/// Every metric name, for the test that proves they are exported.
pub const ALL: [&str; 11] = [
    ENTRIES_PUBLISHED,
    EVENTS_STORED,
    RELAY_ACKS,
    RELAY_ACKED_ENTRIES,
    RELAY_FAILURES,
    RELAY_PENDING,
    LAG_SECONDS,
    LAG_ROWS,
    IDENTITY_OK,
    BAD_ROWS,
    NMC_REQUESTS,
];

/// Why a send failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    /// `OK false` with `rate-limited:`.
    RateLimited,
    /// `OK false` with `error:` or no known prefix: retried.
    Error,
    /// `OK false` with a prefix that will not change (`blocked:`, `invalid:`, …): not retried.
    Refused,
    /// No `OK` in time.
    Timeout,
    /// Cannot connect, or the connection dropped.
    Connection,
}

impl FailureReason {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::RateLimited => "rate-limited",
            FailureReason::Error => "error",
            FailureReason::Refused => "refused",
            FailureReason::Timeout => "timeout",
            FailureReason::Connection => "connection",
        }
    }
}

/// The process's Prometheus recorder, installed on first call.
pub fn recorder() -> Result<PrometheusHandle, String> {
    static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).map_err(|e| e.to_string())?;
            describe();
            Ok(handle)
        })
        .clone()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge};
    describe_counter!(ENTRIES_PUBLISHED, "Entries stored in the outbox, by feed");
    describe_counter!(EVENTS_STORED, "Events stored in the outbox, by kind");
    describe_counter!(RELAY_ACKS, "Events acknowledged, by relay");
    describe_counter!(
        RELAY_ACKED_ENTRIES,
        "Entries of acknowledged events, by relay"
    );
    describe_counter!(RELAY_FAILURES, "Failed sends, by relay and reason");
    describe_gauge!(RELAY_PENDING, "Outbox events a relay has not handled yet");
    describe_gauge!(
        LAG_SECONDS,
        "Age of the oldest entry not acknowledged by any relay"
    );
    describe_gauge!(
        LAG_ROWS,
        "Entries of the mint database not acknowledged by any relay"
    );
    describe_gauge!(IDENTITY_OK, "1 while the gateway's key is the mint's");
    describe_counter!(
        BAD_ROWS,
        "Rows of the mint database that cannot be published"
    );
    describe_counter!(NMC_REQUESTS, "NMC requests, by outcome");
}

/// Sets every metric to its starting value so each is exported from the start.
pub fn register(relays: &[String]) {
    for feed in ["mint", "burn"] {
        metrics::counter!(ENTRIES_PUBLISHED, "feed" => feed).absolute(0);
        metrics::counter!(BAD_ROWS, "feed" => feed).absolute(0);
    }
    for kind in ["11467", "38172", "4919", "1337"] {
        metrics::counter!(EVENTS_STORED, "kind" => kind).absolute(0);
    }
    for relay in relays {
        metrics::counter!(RELAY_ACKS, "relay" => relay.clone()).absolute(0);
        metrics::counter!(RELAY_ACKED_ENTRIES, "relay" => relay.clone()).absolute(0);
        metrics::gauge!(RELAY_PENDING, "relay" => relay.clone()).set(0.0);
        for reason in [
            FailureReason::RateLimited,
            FailureReason::Error,
            FailureReason::Refused,
            FailureReason::Timeout,
            FailureReason::Connection,
        ] {
            metrics::counter!(RELAY_FAILURES, "relay" => relay.clone(), "reason" => reason.as_str())
                .absolute(0);
        }
    }
    for outcome in NMC_OUTCOMES {
        metrics::counter!(NMC_REQUESTS, "outcome" => outcome).absolute(0);
    }
    metrics::gauge!(LAG_SECONDS).set(0.0);
    metrics::gauge!(LAG_ROWS).set(0.0);
    metrics::gauge!(IDENTITY_OK).set(0.0);
}
