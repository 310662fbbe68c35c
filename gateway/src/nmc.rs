//! Nostr Mint Connect, the mint's side (docs/NMC.md): the mint's API served over the gateway's
//! relays. Each relay task publishes the 17338 service info, subscribes to the 27338 requests
//! addressed to the mint and publishes every response; one dispatcher opens the requests
//! (`mintwatch_protocol::nmc`), answers each request id once (a request delivered again, by
//! another relay or re-published by its wallet, gets the same response and never reaches the
//! mint twice), applies the per-requester and global rates, and forwards what is admitted to the
//! mint's HTTP API through the fixed method table, a bounded number at a time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use nostr::Keys;
use serde_json::Value;
use tokio::sync::{broadcast, mpsc, watch, Semaphore};
use tokio_tungstenite::tungstenite::Message;
use tracing::{debug, info, warn};

use mintwatch_protocol::kinds::NMC_REQUEST;
use mintwatch_protocol::nmc::{
    build_info, build_response, http_call, open_request, HttpVerb, NmcError, NmcErrorCode, NmcInfo,
    NmcMethod, NmcResponse, Refusal, MAX_REQUEST_AGE_SECS,
};
use mintwatch_protocol::ratelimit::{GlobalBucket, RateLimit, TokenBuckets, Verdict};
use mintwatch_protocol::relay_message::RelayMessage;
use mintwatch_protocol::{EventId, SignedEvent};

use crate::answers::{AnswerCache, Seen};
use crate::telemetry as m;

/// How the NMC service behaves.
#[derive(Debug, Clone)]
pub struct NmcSettings {
    /// Each requester's allowance.
    pub rate: RateLimit,
    /// All requesters' allowance together.
    pub global_rate: RateLimit,
    /// Calls to the mint at once, at most.
    pub concurrency: usize,
    /// How long the mint may take to answer before the request gets `UNAVAILABLE`.
    pub mint_timeout: Duration,
}

impl Default for NmcSettings {
    /// 20 requests at once per requester refilled at 2/s; 200 at once from everyone refilled at
    /// 100/s; 16 calls to the mint at once; 20 s for the mint to answer.
    fn default() -> Self {
        NmcSettings {
            rate: RateLimit::default(),
            global_rate: RateLimit {
                burst: 200,
                per_second: 100.0,
            },
            concurrency: 16,
            mint_timeout: Duration::from_secs(20),
        }
    }
}

/// Requests queued between the relays and the dispatcher; past it, requests are dropped and
/// counted (a flood must not grow memory).
const QUEUE: usize = 1_024;
/// Answered request ids remembered at most; the oldest beyond it are forgotten first (each is
/// forgotten anyway after twice the replay window).
const MAX_REMEMBERED: usize = 50_000;
/// Bytes of answers remembered at most (an answer can be 87 KB: 50,000 of them would be 4 GB).
const MAX_REMEMBERED_BYTES: usize = 256 * 1024 * 1024;

/// Starts the NMC service on `relays` for the mint at `mint_url` (called with `http`): one task
/// per relay and the dispatcher, all stopping when `stop` turns true.
pub fn start(
    keys: Keys,
    http: reqwest::Client,
    relays: &[String],
    mint_url: url::Url,
    settings: NmcSettings,
    stop: &watch::Receiver<bool>,
) -> Result<Vec<tokio::task::JoinHandle<()>>, crate::error::Error> {
    let info = build_info(
        &keys,
        &NmcInfo {
            methods: NmcMethod::ALL.to_vec(),
            relays: relays.to_vec(),
            url: Some(mint_url.as_str().trim_end_matches('/').to_string()),
        },
    )
    .map_err(|e| crate::error::Error::Event(e.to_string()))?;
    let info = Arc::new(info.to_json());
    let (requests_tx, requests_rx) = mpsc::channel::<SignedEvent>(QUEUE);
    let (responses_tx, _) = broadcast::channel::<Arc<String>>(QUEUE);
    let mut tasks = Vec::new();
    for relay in relays {
        tasks.push(tokio::spawn(relay_task(
            relay.clone(),
            keys.public_key().to_hex(),
            info.clone(),
            requests_tx.clone(),
            responses_tx.subscribe(),
            stop.clone(),
        )));
    }
    let dispatcher = Dispatcher {
        keys,
        mint_url,
        http,
        buckets: TokenBuckets::new(settings.rate),
        global: GlobalBucket::new(settings.global_rate, Instant::now()),
        permits: Arc::new(Semaphore::new(settings.concurrency.max(1))),
        timeout: settings.mint_timeout,
        answered: AnswerCache::new(
            Duration::from_secs(MAX_REQUEST_AGE_SECS * 2),
            MAX_REMEMBERED,
            MAX_REMEMBERED_BYTES,
            Instant::now(),
        ),
        responses: responses_tx,
    };
    tasks.push(tokio::spawn(dispatcher.run(requests_rx, stop.clone())));
    info!(
        relays = relays.len(),
        "NMC: serving the mint's API over nostr"
    );
    Ok(tasks)
}

/// One relay: publish the service info, subscribe to requests for the mint, hand them to the
/// dispatcher and publish every response; reconnect with backoff.
async fn relay_task(
    url: String,
    mint: String,
    info: Arc<String>,
    requests: mpsc::Sender<SignedEvent>,
    mut responses: broadcast::Receiver<Arc<String>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_millis(500);
    loop {
        let Some(connected) = crate::relay::connect(&url, &mut stop).await else {
            return;
        };
        let mut ws = match connected {
            Ok(ws) => ws,
            Err(e) => {
                warn!(relay = %url, error = %e, retry_in = ?backoff, "NMC: cannot connect");
                if crate::relay::sleep_or_stop(backoff, &mut stop).await {
                    return;
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        backoff = Duration::from_millis(500);
        let since = unix_now().saturating_sub(MAX_REQUEST_AGE_SECS);
        let req = serde_json::json!(["REQ", "nmc", {"kinds": [NMC_REQUEST], "#p": [mint], "since": since}]);
        let opened = async {
            ws.send(Message::text(format!("[\"EVENT\",{info}]")))
                .await?;
            ws.send(Message::text(req.to_string())).await
        };
        if opened.await.is_err() {
            continue;
        }
        debug!(relay = %url, "NMC: subscribed");
        loop {
            tokio::select! {
                msg = ws.next() => match msg {
                    Some(Ok(Message::Text(text))) => {
                        if let Some(event) = request_of(&text) {
                            if requests.try_send(event).is_err() {
                                metrics::counter!(m::NMC_REQUESTS, "outcome" => "dropped").increment(1);
                            }
                        }
                    }
                    Some(Ok(_)) => {}
                    _ => break,
                },
                out = responses.recv() => match out {
                    Ok(json) => {
                        if ws.send(Message::text(format!("[\"EVENT\",{json}]"))).await.is_err() {
                            break;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        warn!(relay = %url, skipped = n, "NMC: responses skipped on a slow relay");
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = stop.changed() => {
                    let _ = ws.close(None).await;
                    return;
                }
            }
        }
        warn!(relay = %url, "NMC: connection lost; reconnecting");
    }
}

/// The event of an `["EVENT", <sub>, <event>]` message, if it is one (the protocol's relay
/// message parser, which bounds what it collects of a hostile message).
fn request_of(text: &str) -> Option<SignedEvent> {
    match RelayMessage::parse(text).ok()? {
        RelayMessage::Event { event, .. } => SignedEvent::from_json(event.get()).ok(),
        _ => None,
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

struct Dispatcher {
    keys: Keys,
    mint_url: url::Url,
    http: reqwest::Client,
    buckets: TokenBuckets,
    global: GlobalBucket,
    permits: Arc<Semaphore>,
    timeout: Duration,
    answered: AnswerCache,
    responses: broadcast::Sender<Arc<String>>,
}

impl Dispatcher {
    async fn run(
        mut self,
        mut requests: mpsc::Receiver<SignedEvent>,
        mut stop: watch::Receiver<bool>,
    ) {
        let (done_tx, mut done) = mpsc::channel::<(EventId, Arc<String>)>(QUEUE);
        loop {
            tokio::select! {
                request = requests.recv() => match request {
                    Some(r) => self.handle(r, &done_tx),
                    None => return,
                },
                Some((id, json)) = done.recv() => self.answer(id, json),
                _ = stop.changed() => return,
            }
        }
    }

    /// Publishes a response and remembers it for its request id.
    fn answer(&mut self, id: EventId, json: Arc<String>) {
        self.answered.answer(id, json.clone(), Instant::now());
        let _ = self.responses.send(json);
    }

    fn respond(&mut self, request: &SignedEvent, response: &NmcResponse, outcome: &'static str) {
        metrics::counter!(m::NMC_REQUESTS, "outcome" => outcome).increment(1);
        match build_response(&self.keys, request, response) {
            Ok(event) => self.answer(request.id, Arc::new(event.to_json())),
            Err(e) => warn!(error = %e, "NMC: response not built"),
        }
    }

    fn handle(&mut self, request: SignedEvent, done: &mpsc::Sender<(EventId, Arc<String>)>) {
        let now = Instant::now();
        // Delivered again: the same answer, or nothing while the first is in flight.
        match self.answered.seen(&request.id, now) {
            Seen::New => {}
            Seen::InFlight => return,
            Seen::Answered(json) => {
                metrics::counter!(m::NMC_REQUESTS, "outcome" => "repeated").increment(1);
                let _ = self.responses.send(json);
                return;
            }
        }
        let opened = match open_request(&self.keys, &request, unix_now()) {
            Ok(o) => Ok(o),
            Err(Refusal::Ignore(why)) => {
                metrics::counter!(m::NMC_REQUESTS, "outcome" => "ignored").increment(1);
                debug!(id = %request.id, why, "NMC: request ignored");
                return;
            }
            Err(Refusal::Answer { result_type, error }) => Err((result_type, error)),
        };
        // Every answer costs a signature and an encryption: errors are rate-limited as well.
        match self.buckets.verdict(&request.pubkey, now) {
            Verdict::Admit if self.global.allow(now) => {}
            Verdict::Refuse => {
                let method = match &opened {
                    Ok(o) => o.method.as_str().to_string(),
                    Err((result_type, _)) => result_type.clone(),
                };
                let error = NmcError::new(NmcErrorCode::RateLimited, "slow down");
                self.respond(&request, &NmcResponse::err(&method, error), "rate_limited");
                return;
            }
            _ => {
                metrics::counter!(m::NMC_REQUESTS, "outcome" => "over_rate").increment(1);
                return;
            }
        }
        let opened = match opened {
            Ok(o) => o,
            Err((result_type, error)) => {
                self.respond(&request, &NmcResponse::err(&result_type, error), "refused");
                return;
            }
        };
        self.answered.start(request.id, now);
        let call = match http_call(opened.method, &opened.params) {
            Ok(c) => c,
            Err(e) => {
                self.respond(
                    &request,
                    &NmcResponse::err(opened.method.as_str(), e),
                    "refused",
                );
                return;
            }
        };
        let keys = self.keys.clone();
        let http = self.http.clone();
        let base = self.mint_url.clone();
        let permits = self.permits.clone();
        let timeout = self.timeout;
        let done = done.clone();
        tokio::spawn(async move {
            let Ok(_permit) = permits.acquire_owned().await else {
                return;
            };
            let method = opened.method.as_str();
            let (response, outcome) = match forward(&http, &base, &call, timeout).await {
                Ok(result) => (NmcResponse::ok(method, result), "answered"),
                Err(e) => {
                    let outcome = match e.code {
                        NmcErrorCode::MintError => "mint_error",
                        NmcErrorCode::Unavailable => "unavailable",
                        _ => "refused",
                    };
                    (NmcResponse::err(method, e), outcome)
                }
            };
            metrics::counter!(m::NMC_REQUESTS, "outcome" => outcome).increment(1);
            match build_response(&keys, &request, &response) {
                Ok(event) => {
                    let _ = done.send((request.id, Arc::new(event.to_json()))).await;
                }
                Err(e) => warn!(error = %e, "NMC: response not built"),
            }
        });
    }
}

/// Makes `call` at the mint: its JSON answer, `MINT_ERROR` with its body for a 4xx or 5xx,
/// `UNAVAILABLE` when it cannot be reached or takes longer than `timeout`.
async fn forward(
    http: &reqwest::Client,
    base: &url::Url,
    call: &mintwatch_protocol::nmc::HttpCall,
    timeout: Duration,
) -> Result<Value, NmcError> {
    let url = format!("{}{}", base.as_str().trim_end_matches('/'), call.path);
    let builder = match (call.verb, &call.body) {
        (HttpVerb::Get, _) => http.get(&url),
        (HttpVerb::Post, Some(body)) => http.post(&url).json(body),
        (HttpVerb::Post, None) => http.post(&url).json(&serde_json::json!({})),
    };
    let unavailable = |_| NmcError::new(NmcErrorCode::Unavailable, "the mint did not answer");
    let answer = builder.timeout(timeout).send().await.map_err(unavailable)?;
    let status = answer.status();
    let body = answer.text().await.map_err(unavailable)?;
    if !status.is_success() {
        return Err(NmcError::mint_error(status.as_u16(), &body));
    }
    serde_json::from_str(&body)
        .map_err(|_| NmcError::new(NmcErrorCode::Internal, "the mint's answer is not JSON"))
}
