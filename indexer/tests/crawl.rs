//! Crawl against real in-process relays (nostr-relay-builder) and a misbehaving one.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::{SinkExt, StreamExt};
use mintwatch_indexer::crawl::{
    reason, ConnState, CrawlConfig, CrawlStats, Crawler, MINT_AUTHORS_FILTER, PUBLIC_FILTER,
};
use mintwatch_indexer::pipeline::{Cursor, Delivery};
use mintwatch_protocol::MintKey;
use mintwatch_testkit::TestRelay;
use nostr_relay_builder::prelude::{Event, EventBuilder, Keys, Kind, Tag, Timestamp};
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(20);

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

fn test_config(relays: Vec<String>) -> CrawlConfig {
    CrawlConfig {
        relays,
        page_size: 10,
        max_drain_limit: 1_000,
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(300),
        overlap: Duration::from_secs(5),
        cursor_interval: Duration::from_millis(100),
        resubscribe_delay: Duration::from_millis(30),
        closed_retry_delay: Duration::from_millis(50),
        ..CrawlConfig::default()
    }
}

fn event(keys: &Keys, kind: u16, created_at: u64, n: usize) -> Event {
    EventBuilder::new(Kind::Custom(kind), format!("event {n}"))
        .tag(Tag::identifier(format!("d{n}")))
        .custom_created_at(Timestamp::from(created_at))
        .sign_with_keys(keys)
        .expect("signed")
}

fn mint_key(keys: &Keys) -> MintKey {
    MintKey::from_x_only_bytes(keys.public_key().to_bytes()).expect("x-only key")
}

/// What the pipeline received, by type.
struct Sink {
    rx: mpsc::Receiver<Delivery>,
    /// (relay, event JSON as delivered).
    events: Vec<(String, String)>,
    cursors: Vec<Cursor>,
    rejected: Vec<(String, &'static str)>,
}

impl Sink {
    fn new(rx: mpsc::Receiver<Delivery>) -> Self {
        Self {
            rx,
            events: Vec::new(),
            cursors: Vec::new(),
            rejected: Vec::new(),
        }
    }

    fn take(&mut self, d: Delivery) {
        match d {
            Delivery::Event { relay, json } => self.events.push((relay.to_string(), json.into())),
            Delivery::Cursor(c) => self.cursors.push(c),
            Delivery::Rejected { relay, reason } => self.rejected.push((relay.to_string(), reason)),
        }
    }

    /// Reads deliveries until `done` holds; fails the test after [`WAIT`].
    async fn until(&mut self, what: &str, done: impl Fn(&Sink) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !done(self) {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(d)) => self.take(d),
                Ok(None) => panic!("crawler ended while waiting for {what}"),
                Err(_) => panic!("timed out waiting for {what}"),
            }
        }
    }

    /// Reads whatever arrives during `d`.
    async fn drain_for(&mut self, d: Duration) {
        let deadline = tokio::time::Instant::now() + d;
        while let Ok(Some(x)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            self.take(x);
        }
    }

    /// Event ids delivered from one relay, with repeats.
    fn ids(&self, relay: &str) -> Vec<String> {
        self.events
            .iter()
            .filter(|(r, _)| r == relay)
            .map(|(_, j)| id_of(j))
            .collect()
    }

    fn has(&self, relay: &str, e: &Event) -> bool {
        let id = e.id.to_hex();
        self.ids(relay).contains(&id)
    }

    fn count(&self, relay: &str, e: &Event) -> usize {
        let id = e.id.to_hex();
        self.ids(relay).iter().filter(|x| **x == id).count()
    }

    fn last_cursor(&self, relay: &str, filter: &str) -> Option<&Cursor> {
        self.cursors
            .iter()
            .rev()
            .find(|c| &*c.relay == relay && c.filter == filter)
    }

    fn backfill_done(&self, relay: &str, filter: &str) -> bool {
        self.last_cursor(relay, filter)
            .is_some_and(|c| c.backfill_done)
    }
}

fn id_of(json: &str) -> String {
    let v: Value = serde_json::from_str(json).expect("delivered JSON parses");
    v["id"].as_str().expect("id").to_string()
}

struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    stats: CrawlStats,
    known: mintwatch_indexer::crawl::KnownMints,
}

fn spawn(crawler: Crawler, capacity: usize) -> (Running, Sink) {
    let (tx, rx) = mpsc::channel(capacity);
    let (stop, stop_rx) = watch::channel(false);
    let stats = crawler.stats();
    let known = crawler.known_mints();
    let task = tokio::spawn(crawler.run(tx, stop_rx));
    (
        Running {
            stop,
            task,
            stats,
            known,
        },
        Sink::new(rx),
    )
}

impl Running {
    async fn stop(self, sink: &mut Sink) {
        self.stop.send(true).expect("crawler listens");
        // Keep reading so the final cursors can be sent.
        let mut task = self.task;
        loop {
            tokio::select! {
                r = &mut task => { r.expect("crawler task"); break; }
                d = sink.rx.recv() => if let Some(d) = d { sink.take(d) },
            }
        }
        while let Ok(d) = sink.rx.try_recv() {
            sink.take(d);
        }
    }
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_exactly_once_then_live_then_resume_from_cursors() {
    init_tracing();
    let relay = TestRelay::start(None).await;
    let keys = Keys::generate();
    let base = now() - 100_000;
    let public_kinds = [38172u16, 38173, 38000, 5, 11467, 4919];
    let mut history = Vec::new();
    // 37 events in one second with a page of 10: paging must drain that second.
    // One key each: 11467 is replaceable, a relay keeps one per key.
    for n in 0..37 {
        history.push(event(&Keys::generate(), public_kinds[n % 6], base + 500, n));
    }
    // Two more crowded seconds, right below and at the very bottom.
    for n in 37..52 {
        history.push(event(&keys, 38172, base + 499, n));
    }
    for n in 52..64 {
        history.push(event(&keys, 4919, base, n));
    }
    for n in 64..100 {
        history.push(event(&keys, 38000, base + 1_000 + n as u64 * 7, n));
    }
    // Not ours: another kind, and kind 1337 from a key nobody knows.
    let foreign = vec![
        event(&keys, 1, base + 600, 1000),
        event(&keys, 1337, base + 700, 1001),
    ];
    relay.store_events(&history).await;
    relay.store_events(&foreign).await;

    let crawler = Crawler::new(test_config(vec![relay.url.clone()]), Vec::new());
    // A small channel: the crawler must wait for the consumer, not drop.
    let (running, mut sink) = spawn(crawler, 4);
    let url = relay.url.clone();
    sink.until("public backfill", |s| s.backfill_done(&url, PUBLIC_FILTER))
        .await;

    let ids = sink.ids(&url);
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(
        ids.len(),
        unique.len(),
        "an event was delivered twice by backfill"
    );
    let want: BTreeSet<String> = history.iter().map(|e| e.id.to_hex()).collect();
    let got: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(got, want, "backfill must deliver exactly the public events");
    for f in &foreign {
        assert!(
            !sink.has(&url, f),
            "an event outside the filters was delivered"
        );
    }
    // The delivered JSON is the signed event (byte-exactness is checked with the misbehaving
    // relay, whose bytes the test knows).
    let by_id: HashMap<String, &Event> = history.iter().map(|e| (e.id.to_hex(), e)).collect();
    for (_, json) in &sink.events {
        let original = by_id[&id_of(json)];
        let delivered: Value = serde_json::from_str(json).expect("JSON");
        let expected: Value = serde_json::to_value(original).expect("JSON");
        assert_eq!(delivered, expected);
    }
    let c = sink
        .last_cursor(&url, PUBLIC_FILTER)
        .expect("a cursor")
        .clone();
    assert_eq!(c.backfill_until.map(|t| t <= base), Some(true));
    assert_eq!(
        c.newest_seen,
        history.iter().map(|e| e.created_at.as_secs()).max()
    );

    // Live: events published after EOSE arrive once.
    let t = now();
    let live: Vec<Event> = (0..3).map(|n| event(&keys, 38172, t, 200 + n)).collect();
    relay.publish_events(&live).await;
    sink.until("live events", |s| live.iter().all(|e| s.has(&url, e)))
        .await;
    for e in &live {
        assert_eq!(sink.count(&url, e), 1);
    }
    sink.until("a cursor covering the live events", |s| {
        s.last_cursor(&url, PUBLIC_FILTER)
            .is_some_and(|c| c.newest_seen == Some(t))
    })
    .await;
    assert_eq!(
        running.stats.relay(&url).map(|s| s.state),
        Some(ConnState::Live)
    );
    running.stop(&mut sink).await;

    // Restart from the emitted cursors, with new events stored while the crawler was down.
    let cursors: Vec<Cursor> = [PUBLIC_FILTER, MINT_AUTHORS_FILTER]
        .iter()
        .filter_map(|f| sink.last_cursor(&url, f).cloned())
        .collect();
    let before = sink
        .last_cursor(&url, PUBLIC_FILTER)
        .cloned()
        .expect("cursor");
    let t2 = now() + 1;
    let missed: Vec<Event> = (0..5).map(|n| event(&keys, 38173, t2, 300 + n)).collect();
    relay.store_events(&missed).await;

    let crawler = Crawler::new(test_config(vec![relay.url.clone()]), cursors);
    let (running, mut sink2) = spawn(crawler, 64);
    sink2
        .until("events stored while down", |s| {
            missed.iter().all(|e| s.has(&url, e))
        })
        .await;
    sink2
        .until("the catch-up to finish", |s| {
            s.last_cursor(&url, PUBLIC_FILTER)
                .is_some_and(|c| c.newest_seen == Some(t2))
        })
        .await;
    let overlap_from = before.newest_seen.expect("newest") - 5;
    let old: BTreeMap<String, u64> = history
        .iter()
        .chain(&live)
        .map(|e| (e.id.to_hex(), e.created_at.as_secs()))
        .collect();
    let mut repeated = 0;
    for id in sink2.ids(&url) {
        if let Some(&at) = old.get(&id) {
            repeated += 1;
            assert!(
                at >= overlap_from,
                "restart re-delivered an event from {at}, before the overlap {overlap_from}"
            );
        }
    }
    assert!(repeated <= live.len());
    let c2 = sink2.last_cursor(&url, PUBLIC_FILTER).expect("cursor");
    assert!(c2.backfill_done);
    running.stop(&mut sink2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kind_1337_only_from_known_mints() {
    init_tracing();
    let relay = TestRelay::start(None).await;
    let known_mint = Keys::generate();
    let later_mint = Keys::generate();
    let stranger = Keys::generate();
    let base = now() - 50_000;
    let a = event(&known_mint, 1337, base, 1);
    let b: Vec<Event> = (0..3)
        .map(|n| event(&later_mint, 1337, base + n, 10 + n as usize))
        .collect();
    let s = event(&stranger, 1337, base, 3);
    let announcement = event(&later_mint, 11467, base, 4);
    relay
        .store_events(&[a.clone(), s.clone(), announcement.clone()])
        .await;
    relay.store_events(&b).await;

    let crawler = Crawler::new(test_config(vec![relay.url.clone()]), Vec::new());
    crawler.known_mints().insert(mint_key(&known_mint));
    let (running, mut sink) = spawn(crawler, 64);
    let url = relay.url.clone();
    sink.until("both backfills", |s| {
        s.backfill_done(&url, PUBLIC_FILTER) && s.backfill_done(&url, MINT_AUTHORS_FILTER)
    })
    .await;
    assert!(sink.has(&url, &a), "1337 of a known mint");
    assert!(sink.has(&url, &announcement));
    assert!(b.iter().all(|e| !sink.has(&url, e)), "unknown author");
    assert!(!sink.has(&url, &s));

    // A later stage verifies the 11467 and learns the key: its history is walked.
    assert!(running.known.insert(mint_key(&later_mint)));
    sink.until("history of the new mint key", |s| {
        b.iter().all(|e| s.has(&url, e))
    })
    .await;
    sink.until("mint-authors done again", |s| {
        s.backfill_done(&url, MINT_AUTHORS_FILTER)
    })
    .await;
    // The grown live subscription: a new 1337 from it arrives; the stranger's never does.
    let t = now();
    let stranger_live = event(&stranger, 1337, t, 20);
    let mint_live = event(&later_mint, 1337, t, 21);
    relay
        .publish_events(&[stranger_live.clone(), mint_live.clone()])
        .await;
    sink.until("live 1337 of the new mint", |s| s.has(&url, &mint_live))
        .await;
    assert!(
        sink.cursors.iter().any(|c| c.filter == MINT_AUTHORS_FILTER
            && !c.backfill_done
            && c.backfill_until.is_none()),
        "while new keys are walked the mint-authors cursor claims nothing"
    );
    sink.drain_for(Duration::from_millis(200)).await;
    assert!(!sink.has(&url, &stranger_live));
    assert!(!sink.has(&url, &s));
    for e in &b {
        assert_eq!(sink.count(&url, e), 1);
    }
    running.stop(&mut sink).await;
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    l.local_addr().expect("addr").port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_one_of_them_down_at_start() {
    init_tracing();
    let up = TestRelay::start(None).await;
    let port = free_port();
    let late_url = format!("ws://127.0.0.1:{port}");
    let keys = Keys::generate();
    let base = now() - 10_000;
    let on_up: Vec<Event> = (0..25)
        .map(|n| event(&keys, 38172, base + n as u64, n))
        .collect();
    let on_late: Vec<Event> = (0..15)
        .map(|n| event(&keys, 4919, base + n as u64 / 2, 100 + n))
        .collect();
    up.store_events(&on_up).await;

    let crawler = Crawler::new(
        test_config(vec![up.url.clone(), late_url.clone()]),
        Vec::new(),
    );
    let (running, mut sink) = spawn(crawler, 16);
    let url = up.url.clone();
    sink.until("the relay that is up", |s| {
        s.backfill_done(&url, PUBLIC_FILTER)
    })
    .await;
    let late = running
        .stats
        .relay(&late_url)
        .expect("stats of the late relay");
    assert!(
        late.disconnects >= 1,
        "connection attempts failed and were counted"
    );
    assert_eq!(late.connects, 0);
    assert!(late.last_error.is_some());
    assert!(sink.ids(&late_url).is_empty());

    let late_relay = TestRelay::start(Some(port)).await;
    assert_eq!(late_relay.url, late_url);
    late_relay.store_events(&on_late).await;
    sink.until("the relay that came up", |s| {
        s.backfill_done(&late_url, PUBLIC_FILTER)
    })
    .await;
    let got: BTreeSet<String> = sink.ids(&late_url).into_iter().collect();
    let want: BTreeSet<String> = on_late.iter().map(|e| e.id.to_hex()).collect();
    assert_eq!(got, want);
    let got_up: BTreeSet<String> = sink.ids(&url).into_iter().collect();
    let want_up: BTreeSet<String> = on_up.iter().map(|e| e.id.to_hex()).collect();
    assert_eq!(got_up, want_up);
    assert_eq!(sink.ids(&url).len(), on_up.len());
    assert!(running.stats.relay(&late_url).expect("stats").connects >= 1);
    running.stop(&mut sink).await;
}

/// A "relay" that answers the first backfill page with every kind of misbehaviour, then ends
/// every other request at once.
/// The first live request gets AUTH, NOTICE and CLOSED instead of EOSE; `live_reqs` counts
/// live requests (the crawler must ask again).
async fn misbehaving_relay(
    keys: Keys,
    max_message: usize,
    flood: Vec<String>,
    live_reqs: Arc<AtomicUsize>,
) -> String {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut served_junk = false;
        while let Ok((stream, _)) = listener.accept().await {
            let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                continue;
            };
            while let Some(Ok(Message::Text(t))) = ws.next().await {
                let v: Value = serde_json::from_str(t.as_str()).expect("client JSON");
                if v[0] != "REQ" {
                    continue;
                }
                let sub = v[1].as_str().expect("sub id").to_string();
                let filter = &v[2];
                let public = filter["kinds"]
                    .as_array()
                    .is_some_and(|k| k.contains(&Value::from(38172)));
                let is_page = filter["limit"].as_u64().unwrap_or(0) > 0;
                let mut out: Vec<Message> = Vec::new();
                if !is_page && live_reqs.fetch_add(1, Ordering::SeqCst) == 0 {
                    out.push(Message::text(r#"["AUTH","challenge"]"#));
                    out.push(Message::text(r#"["NOTICE","slow down"]"#));
                    out.push(Message::text(format!(
                        r#"["CLOSED","{sub}","rate-limited: slow down"]"#
                    )));
                    for m in out {
                        let _ = ws.send(m).await;
                    }
                    continue;
                }
                if public && is_page && !served_junk {
                    served_junk = true;
                    let until = filter["until"].as_u64().expect("until");
                    let ev = |kind: u16, at: u64, n: usize, content: &str| {
                        let e = EventBuilder::new(Kind::Custom(kind), content)
                            .tag(Tag::identifier(format!("x{n}")))
                            .custom_created_at(Timestamp::from(at))
                            .sign_with_keys(&keys)
                            .expect("signed");
                        nostr_relay_builder::prelude::JsonUtil::as_json(&e)
                    };
                    let msg = |sub: &str, json: String| {
                        Message::text(format!(r#"["EVENT","{sub}",{json}]"#))
                    };
                    out.push(Message::text("this is not json"));
                    out.push(Message::text(r#"["HELLO","world"]"#));
                    out.push(Message::binary(vec![1u8, 2, 3]));
                    out.push(msg(&sub, r#"{"kind":"nope"}"#.to_string()));
                    out.push(msg(&sub, ev(38172, until, 1, &"x".repeat(max_message))));
                    out.push(msg("never-opened", ev(38172, until, 2, "")));
                    out.push(msg(&sub, ev(1, until, 3, "")));
                    out.push(msg(&sub, ev(1337, until, 4, "")));
                    out.push(msg(&sub, ev(38172, until + 10_000, 5, "")));
                    for json in &flood {
                        out.push(msg(&sub, json.clone()));
                    }
                }
                out.push(Message::text(format!(r#"["EOSE","{sub}"]"#)));
                for m in out {
                    if ws.send(m).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    format!("ws://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_relay_is_counted_and_does_not_disturb_another() {
    init_tracing();
    let good = TestRelay::start(None).await;
    let keys = Keys::generate();
    let base = now() - 1_000;
    let good_events: Vec<Event> = (0..30)
        .map(|n| event(&keys, 38000, base + n as u64, n))
        .collect();
    good.store_events(&good_events).await;
    let max_message = 4 * 1024;
    // Valid matching events, spaced unlike any serializer would: they must arrive byte for byte.
    let t0 = now() - 10;
    let flood: Vec<String> = (0..200)
        .map(|n| {
            let json = nostr_relay_builder::prelude::JsonUtil::as_json(&event(
                &keys,
                38172,
                t0 - n as u64 % 3,
                500 + n,
            ));
            format!("{{ {}", &json[1..]).replace(",\"", ",  \"")
        })
        .collect();
    let live_reqs = Arc::new(AtomicUsize::new(0));
    let bad = misbehaving_relay(keys.clone(), max_message, flood.clone(), live_reqs.clone()).await;

    let mut config = test_config(vec![bad.clone(), good.url.clone()]);
    config.max_message_bytes = max_message;
    config.max_events_per_sec = 500;
    config.burst = 60;
    let crawler = Crawler::new(config, Vec::new());
    let (running, mut sink) = spawn(crawler, 16);
    let good_url = good.url.clone();
    let expected = [
        (reason::GARBAGE, 4),
        (reason::OVERSIZED, 1),
        (reason::UNKNOWN_SUBSCRIPTION, 1),
        (reason::FILTER_MISMATCH, 3),
        (reason::FLOOD, 1),
    ];
    sink.until("both relays", |s| {
        s.backfill_done(&good_url, PUBLIC_FILTER) && s.backfill_done(&bad, PUBLIC_FILTER)
    })
    .await;

    let mut delivered_reasons: BTreeMap<&str, u64> = BTreeMap::new();
    for (r, why) in &sink.rejected {
        assert_eq!(r, &bad, "only the misbehaving relay is refused");
        *delivered_reasons.entry(why).or_insert(0) += 1;
    }
    let stats = running.stats.relay(&bad).expect("stats");
    for (why, n) in expected {
        assert_eq!(
            delivered_reasons.get(why).copied().unwrap_or(0),
            n,
            "Rejected deliveries for {why}: {delivered_reasons:?}"
        );
        assert_eq!(stats.rejected(why), n, "counter for {why}");
    }
    // The well-formed matching events of the flood still arrive (crawl does not verify).
    let from_bad: Vec<&String> = sink
        .events
        .iter()
        .filter(|(r, _)| *r == bad)
        .map(|(_, j)| j)
        .collect();
    assert_eq!(from_bad.len(), flood.len());
    for (got, sent) in from_bad.iter().zip(&flood) {
        assert_eq!(*got, sent, "events are handed on verbatim");
    }

    // CLOSED is retried on the same connection; NOTICE and AUTH are only logged and counted.
    let deadline = tokio::time::Instant::now() + WAIT;
    while live_reqs.load(Ordering::SeqCst) < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "CLOSED subscription not retried"
        );
        sink.drain_for(Duration::from_millis(20)).await;
    }
    let stats = running.stats.relay(&bad).expect("stats");
    assert_eq!(stats.closed, 1);
    assert_eq!(stats.notices, 1);
    assert_eq!(stats.auth_challenges, 1);
    assert_eq!(
        stats.connects, 1,
        "misbehaviour did not cost the connection"
    );
    assert_eq!(stats.disconnects, 0);

    let good_stats = running.stats.relay(&good_url).expect("stats");
    assert!(good_stats.rejections.is_empty());
    let got: BTreeSet<String> = sink.ids(&good_url).into_iter().collect();
    let want: BTreeSet<String> = good_events.iter().map(|e| e.id.to_hex()).collect();
    assert_eq!(got, want);
    assert_eq!(sink.ids(&good_url).len(), good_events.len());
    let stats = running.stats.clone();
    running.stop(&mut sink).await;
    assert!(stats
        .snapshot()
        .iter()
        .all(|r| r.state == ConnState::Stopped));
}

/// A "relay" that CLOSEDs every subscription with `authors` (as a relay capping subscriptions
/// does) and serves `events` to the public filter, page by page. Counts author REQs and pings.
async fn author_refusing_relay(
    events: Vec<Event>,
    author_reqs: Arc<AtomicUsize>,
    pings: Arc<AtomicUsize>,
) -> String {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                continue;
            };
            while let Some(Ok(m)) = ws.next().await {
                let t = match m {
                    Message::Text(t) => t,
                    Message::Ping(_) => {
                        pings.fetch_add(1, Ordering::SeqCst);
                        continue;
                    }
                    _ => continue,
                };
                let v: Value = serde_json::from_str(t.as_str()).expect("client JSON");
                if v[0] != "REQ" {
                    continue;
                }
                let sub = v[1].as_str().expect("sub id").to_string();
                let filter = &v[2];
                if filter.get("authors").is_some() {
                    author_reqs.fetch_add(1, Ordering::SeqCst);
                    let _ = ws
                        .send(Message::text(format!(
                            r#"["CLOSED","{sub}","error: too many subscriptions"]"#
                        )))
                        .await;
                    continue;
                }
                let limit = filter["limit"].as_u64().unwrap_or(0) as usize;
                if limit > 0 {
                    let until = filter["until"].as_u64().unwrap_or(u64::MAX);
                    let since = filter["since"].as_u64().unwrap_or(0);
                    let mut page: Vec<&Event> = events
                        .iter()
                        .filter(|e| {
                            let t = e.created_at.as_secs();
                            t <= until && t >= since
                        })
                        .collect();
                    page.sort_by_key(|e| std::cmp::Reverse(e.created_at));
                    for e in page.into_iter().take(limit) {
                        let json = nostr_relay_builder::prelude::JsonUtil::as_json(e);
                        let _ = ws
                            .send(Message::text(format!(r#"["EVENT","{sub}",{json}]"#)))
                            .await;
                    }
                }
                let _ = ws.send(Message::text(format!(r#"["EOSE","{sub}"]"#))).await;
            }
        }
    });
    format!("ws://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_closing_author_filters_keeps_the_connection_and_is_not_widened_again() {
    init_tracing();
    let keys = Keys::generate();
    let t0 = now() - 100;
    let events: Vec<Event> = (0..15)
        .map(|n| event(&keys, 38172, t0 + n as u64, n))
        .collect();
    let (author_reqs, pings) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let url = author_refusing_relay(events.clone(), author_reqs.clone(), pings.clone()).await;
    let config = CrawlConfig {
        ping_interval: Duration::from_millis(100),
        closed_retries: 1,
        ..test_config(vec![url.clone()])
    };
    let crawler = Crawler::new(config, Vec::new());
    crawler.known_mints().extend([mint_key(&Keys::generate())]);
    let (running, mut sink) = spawn(crawler, 1024);
    sink.until("every public event", |s| {
        events.iter().all(|e| s.has(&url, e))
    })
    .await;
    let stats = running.stats.clone();
    let refused = |stats: &CrawlStats| {
        stats
            .relay(&url)
            .is_some_and(|r| r.author_filters_refused > 0)
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    while !refused(&stats) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "author filters never given up"
        );
        sink.drain_for(Duration::from_millis(20)).await;
    }
    // mint-authors is two subscriptions (live and its backfill walk), each retried once before
    // it is given up: the first given up does not mean the other's retry has been asked yet.
    // Sentinel: two pings (200 ms) after it, well past the 50 ms retry delay.
    let seen = pings.load(Ordering::SeqCst);
    let deadline = tokio::time::Instant::now() + WAIT;
    while pings.load(Ordering::SeqCst) < seen + 2 {
        assert!(tokio::time::Instant::now() < deadline, "no ping");
        sink.drain_for(Duration::from_millis(20)).await;
    }
    let asked = author_reqs.load(Ordering::SeqCst);
    assert!(
        asked >= 2,
        "the refused filter was asked again once ({asked})"
    );

    // 300 more keys would need two more subscriptions: none is asked for on this connection.
    running
        .known
        .extend((0..300).map(|_| mint_key(&Keys::generate())));
    // Sentinel: two pings after the keys were added, well past the re-subscription delay.
    let seen = pings.load(Ordering::SeqCst);
    let deadline = tokio::time::Instant::now() + WAIT;
    while pings.load(Ordering::SeqCst) < seen + 2 {
        assert!(tokio::time::Instant::now() < deadline, "no ping");
        sink.drain_for(Duration::from_millis(20)).await;
    }
    assert_eq!(
        author_reqs.load(Ordering::SeqCst),
        asked,
        "mint-authors widened after the relay CLOSED it"
    );
    let r = stats.relay(&url).expect("stats");
    assert_eq!(r.connects, 1, "the connection was kept");
    assert_eq!(r.disconnects, 0);
    assert!(r.closed >= 2);
    assert_eq!(sink.ids(&url).len(), events.len(), "each public event once");
    running.stop(&mut sink).await;
}
