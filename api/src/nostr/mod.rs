//! mintwatch on nostr (PROTOCOL.md §5), signed with the indexer's own key:
//!
//! - [`keys`]: the key file, created 0600 on first start and refused if others can read it;
//! - [`publish`]: NIP-85 assertions (30382) per mint, NIP-32 evidence labels (1985) per
//!   finding;
//! - [`service`]: the NIP-44 encrypted query service (18172 info, 28172 requests, 28173
//!   responses), with a token bucket per requester (`mintwatch_protocol::ratelimit`);
//! - [`reports`]: the reads they need.
//!
//! [`NostrService::start`] runs all of it over one nostr-sdk `Client` until
//! [`NostrHandle::stop`].

pub mod keys;
pub mod publish;
pub mod reports;
pub mod service;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nostr_sdk::prelude::{Client, Filter, Kind, RelayPoolNotification, Timestamp};
use tokio::sync::{broadcast, watch, Semaphore};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use mintwatch_protocol::kinds::SERVICE_REQUEST;
use mintwatch_protocol::output::{
    build_response, build_service_info, ErrorCode, Method, Response, ServiceError,
};
use mintwatch_protocol::SignedEvent;
use mintwatch_store::Store;

pub use keys::{load_or_create_key, KeyFileError};
pub use mintwatch_protocol::ratelimit::{GlobalBucket, RateLimit, TokenBuckets, Verdict};
pub use publish::{OutputCounts, OutputStats, Publisher, ScanOutcome};
pub use service::QueryService;

/// How the nostr outputs run.
#[derive(Debug, Clone)]
pub struct NostrService {
    /// Relays to publish to and serve queries on (`wss://…`).
    pub relays: Vec<String>,
    /// The indexer's keys (see [`load_or_create_key`]).
    pub keys: nostr::Keys,
    /// The least time between two assertions of one mint.
    pub publish_interval: Duration,
    /// How often the store is read for changed numbers and new findings.
    pub scan_every: Duration,
    /// Each requester's allowance.
    pub rate_limit: RateLimit,
    /// All requesters' allowance together (a fresh key costs nothing).
    pub global_rate_limit: RateLimit,
    /// Requests answered at once; more wait (the relay connection buffers them).
    pub max_concurrent_requests: usize,
    /// How long to wait for relays at start, and for our published events to be read back.
    pub connect_timeout: Duration,
    /// Bytes of labels in one `get_evidence` page, at most
    /// ([`service::EVIDENCE_BUDGET_BYTES`], also the default).
    pub evidence_page_bytes: usize,
}

impl NostrService {
    /// Defaults: an assertion per mint at most every 10 minutes, a scan every 30 s, 20 requests
    /// at once per requester refilled at 2/s, 200 at once from everyone refilled at 100/s, 16
    /// requests answered at once.
    pub fn new(relays: Vec<String>, keys: nostr::Keys) -> Self {
        Self {
            relays,
            keys,
            publish_interval: Duration::from_secs(600),
            scan_every: Duration::from_secs(30),
            rate_limit: RateLimit::default(),
            global_rate_limit: RateLimit {
                burst: 200,
                per_second: 100.0,
            },
            max_concurrent_requests: 16,
            connect_timeout: Duration::from_secs(10),
            evidence_page_bytes: service::EVIDENCE_BUDGET_BYTES,
        }
    }
}

/// Why the nostr outputs could not start.
#[derive(Debug, thiserror::Error)]
pub enum NostrError {
    /// A relay URL was refused.
    #[error("relay {url}: {why}")]
    Relay {
        /// The URL.
        url: String,
        /// Why.
        why: String,
    },
    /// Subscribing to requests failed on every relay.
    #[error("subscribing to requests failed: {0}")]
    Subscribe(String),
}

/// The running nostr outputs.
pub struct NostrHandle {
    client: Client,
    shutdown: watch::Sender<bool>,
    publisher: JoinHandle<()>,
    server: JoinHandle<()>,
    stats: Arc<OutputStats>,
    public_key: nostr::PublicKey,
}

impl NostrHandle {
    /// The indexer's public key (what wallets address requests to).
    pub fn public_key(&self) -> nostr::PublicKey {
        self.public_key
    }

    /// What was published and answered so far.
    pub fn stats(&self) -> OutputCounts {
        self.stats.snapshot()
    }

    /// Stops publishing and serving: the current scan and the requests in hand finish, then
    /// the relay connections close.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        if let Err(e) = self.publisher.await {
            warn!(error = %e, "publisher task failed");
        }
        if let Err(e) = self.server.await {
            warn!(error = %e, "query service task failed");
        }
        self.client.shutdown().await;
    }
}

impl NostrService {
    /// Connects to the relays, subscribes to requests, publishes the service info, and starts
    /// the publisher and the query service.
    pub async fn start(self, store: Store) -> Result<NostrHandle, NostrError> {
        let client = Client::default();
        for url in &self.relays {
            client
                .add_relay(url.as_str())
                .await
                .map_err(|e| NostrError::Relay {
                    url: url.clone(),
                    why: e.to_string(),
                })?;
        }
        client.connect().await;
        client.wait_for_connection(self.connect_timeout).await;

        let public_key = self.keys.public_key();
        let stats = Arc::new(OutputStats::default());
        let (shutdown, _) = watch::channel(false);

        // Subscribe before announcing the service, so no request sent after the announcement
        // is missed.
        let notifications = client.notifications();
        let requests = Filter::new()
            .kind(Kind::Custom(SERVICE_REQUEST))
            .pubkey(public_key)
            .since(Timestamp::now());
        let out = client
            .subscribe(requests, None)
            .await
            .map_err(|e| NostrError::Subscribe(e.to_string()))?;
        if out.success.is_empty() && !self.relays.is_empty() {
            warn!(failed = ?out.failed, "no relay took the request subscription yet");
        }
        let server = tokio::spawn(serve(
            client.clone(),
            notifications,
            QueryService::new(store.clone(), self.keys.clone())
                .with_evidence_page_bytes(self.evidence_page_bytes),
            self.keys.clone(),
            Limits {
                requester: self.rate_limit,
                global: self.global_rate_limit,
                max_concurrent: self.max_concurrent_requests.max(1),
            },
            stats.clone(),
            shutdown.subscribe(),
        ));

        match build_service_info(&self.keys, &Method::ALL) {
            Ok(info) => {
                publish::send(&client, &info, &stats).await;
            }
            Err(e) => warn!(error = %e, "service info not built"),
        }

        let mut publisher = Publisher::new(
            store,
            self.keys.clone(),
            client.clone(),
            self.publish_interval,
            stats.clone(),
        );
        let mut stop = shutdown.subscribe();
        let (scan_every, seed_timeout) = (self.scan_every, self.connect_timeout);
        let publisher = tokio::spawn(async move {
            publisher.seed_from_relays(seed_timeout).await;
            loop {
                match publisher.scan().await {
                    Ok(o) if o.assertions + o.labels > 0 => info!(
                        assertions = o.assertions,
                        labels = o.labels,
                        deferred = o.deferred,
                        "published"
                    ),
                    Ok(_) => {}
                    Err(e) => warn!(error = %e, "publisher scan failed"),
                }
                tokio::select! {
                    _ = stop.changed() => break,
                    _ = tokio::time::sleep(scan_every) => {}
                }
            }
        });
        info!(key = %public_key, relays = self.relays.len(), "nostr outputs started");
        Ok(NostrHandle {
            client,
            shutdown,
            publisher,
            server,
            stats,
            public_key,
        })
    }
}

/// Encrypts `response` to the request's author and sends it.
async fn respond(
    client: &Client,
    keys: &nostr::Keys,
    request: &SignedEvent,
    response: &Response,
    stats: &OutputStats,
) {
    let outcome = match &response.error {
        None => "ok",
        Some(e) => match e.code {
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::NotFound => "not_found",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Internal => "internal",
            ErrorCode::NotImplemented => "not_implemented",
        },
    };
    metrics::counter!("mintwatch_nostr_requests_total", "outcome" => outcome).increment(1);
    match build_response(keys, request, response) {
        Ok(event) => {
            if publish::send(client, &event, stats).await {
                stats.responses.fetch_add(1, Ordering::Relaxed);
            }
        }
        Err(e) => warn!(request = %request.id, error = %e, "response not built"),
    }
}

/// How much the query service answers.
#[derive(Debug, Clone, Copy)]
struct Limits {
    requester: RateLimit,
    global: RateLimit,
    max_concurrent: usize,
}

/// Counts a request that gets no answer, and logs it at most once a minute with the count.
fn ignored(reason: &'static str, stats: &OutputStats, last_log: &mut Option<Instant>) {
    let n = stats.ignored.fetch_add(1, Ordering::Relaxed) + 1;
    metrics::counter!("mintwatch_nostr_requests_ignored_total", "reason" => reason).increment(1);
    if last_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
        *last_log = Some(Instant::now());
        warn!(
            reason,
            ignored_total = n,
            "query service requests ignored (over the rate)"
        );
    }
}

/// The query service loop: every request event is rate-checked here (one owner of the
/// buckets, no lock), then answered on a task of its own, at most `max_concurrent` at once. A
/// requester over its rate is told `RATE_LIMITED` once, then ignored; requests over the global
/// rate are ignored; neither holds a permit.
async fn serve(
    client: Client,
    mut notifications: broadcast::Receiver<RelayPoolNotification>,
    service: QueryService,
    keys: nostr::Keys,
    limits: Limits,
    stats: Arc<OutputStats>,
    mut stop: watch::Receiver<bool>,
) {
    let max_concurrent = limits.max_concurrent;
    let permits = Arc::new(Semaphore::new(max_concurrent));
    let mut buckets = TokenBuckets::new(limits.requester);
    let mut global = GlobalBucket::new(limits.global, Instant::now());
    let mut last_log = None;
    let me = keys.public_key();
    loop {
        let note = tokio::select! {
            _ = stop.changed() => break,
            n = notifications.recv() => n,
        };
        let event = match note {
            Ok(RelayPoolNotification::Event { event, .. }) => event,
            Ok(RelayPoolNotification::Shutdown) => break,
            Ok(_) => continue,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                warn!(
                    missed = n,
                    "query service fell behind; requests were dropped"
                );
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => break,
        };
        if event.kind != Kind::Custom(SERVICE_REQUEST) || event.pubkey == me {
            continue;
        }
        let request = SignedEvent::from(&*event);
        let now = Instant::now();
        let (client, keys, stats) = (client.clone(), keys.clone(), stats.clone());
        match buckets.verdict(&request.pubkey, now) {
            Verdict::Admit if global.allow(now) => {
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    break;
                };
                let service = service.clone();
                tokio::spawn(async move {
                    let response = service.answer(&request).await;
                    respond(&client, &keys, &request, &response, &stats).await;
                    drop(permit);
                });
            }
            Verdict::Admit => ignored("global_rate", &stats, &mut last_log),
            Verdict::Refuse => {
                stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    let response = Response::err(
                        None,
                        ServiceError::new(ErrorCode::RateLimited, "too many requests; slow down"),
                    );
                    respond(&client, &keys, &request, &response, &stats).await;
                });
            }
            Verdict::Ignore => ignored("rate_limited_again", &stats, &mut last_log),
        }
    }
    // Let the requests in hand finish before the connections close.
    let _ = permits.acquire_many(max_concurrent as u32).await;
}
