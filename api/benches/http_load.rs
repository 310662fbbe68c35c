//! HTTP load on the read API, and round trips through the nostr query service, over a store of
//! ≥ 1,000,000 burns and ≥ 10,000 mints.
//!
//! `cargo bench -p mintwatch-api --bench http_load`
//!
//! - The store is the database `mintwatch_bench_http` (`MW_BENCH_DB` to rename it), filled through
//!   the real path: signed events (the simulator's 4919s with real `Y`s, 11467s, 38172s, 1337s and
//!   38000 reviews; plus 9,900 self-signed 38172 announcements with names, URLs and descriptions
//!   and 20,000 reviews of them) into `mintwatch_indexer`'s `Ingest` from memory. Filling takes
//!   minutes, so the database is kept and reused when it holds the expected counts;
//!   `MW_BENCH_REBUILD=1` drops and refills it.
//! - The server is the real router (`mintwatch_api::serve`) in a child process (this binary again,
//!   `MW_BENCH_ROLE=server`) on 127.0.0.1, random port, its own 2-worker runtime.
//! - Closed loop (maximum throughput): `wrk` (`MW_BENCH_WRK`, default `/usr/bin/wrk`), 2 threads,
//!   32 connections, with a Lua script picking a random path (or body) from a file per request.
//! - Open loop (latency at a fixed rate): requests scheduled at fixed times from this process
//!   (tokio + reqwest, one task per request, keep-alive pool), latency measured from the
//!   *scheduled* time, so a stalled server shows up in the percentiles instead of slowing the
//!   generator down (no coordinated omission).
//! - Baselines in the same run: the same generators against `GET /healthz` (no database), and the
//!   bare SQL lookup of one `Y` through sqlx from this process.
//! - Query service: `NostrService` on an in-process relay, a nostr-sdk wallet sending NIP-44
//!   requests (a fresh key each, as a private wallet does) one at a time; baseline: the same
//!   wallet's own ephemeral event echoed by the relay, and `QueryService::answer` in process.
//!
//! `MW_BENCH_SECS` sets each open-loop measurement's length (default 10 s, after 2 s of warm-up).
//! `MW_BENCH_ONLY=nostr` runs only the query service; `MW_BENCH_ONLY=http` only the HTTP part;
//! `MW_BENCH_ROUTES=spent/{Y},q=word` keeps only the HTTP routes whose name contains one of the
//! comma-separated parts (the `/healthz` baseline always runs).

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

#[path = "../../indexer/benches/common/mod.rs"]
mod common;

use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nostr_sdk::prelude::{
    Client, EventBuilder, Filter, Keys, Kind, RelayPoolNotification, Tag, Timestamp,
};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use sqlx::Connection;
use tokio::sync::mpsc;

use mintwatch_api::nostr::{NostrService, QueryService, RateLimit};
use mintwatch_api::{metrics_recorder, serve, ApiState};
use mintwatch_indexer::analyze::{AnalyzeConfig, Analyzer};
use mintwatch_indexer::ingest::{Ingest, IngestConfig};
use mintwatch_indexer::pipeline::{Delivery, RelayUrl};
use mintwatch_indexer::testing::{connected_client, server_url, TestRelay};
use mintwatch_indexer::verify::KnownMintKeys;
use mintwatch_protocol::ecash::hash_to_curve;
use mintwatch_protocol::kinds;
use mintwatch_protocol::output::{
    build_request, open_response, CheckSpent, DirectoryQuery, MintParam, Query,
};
use mintwatch_protocol::simulate::{Misbehaviour, SimConfig, Simulator};
use mintwatch_protocol::{MintKey, Point, SignedEvent};
use mintwatch_store::Store;

/// Burns and mints the store must hold (the issue's corpus).
const MIN_BURNS: i64 = 1_000_000;
const MIN_MINTS: i64 = 10_000;
/// Mints of the simulator (with 4919s); the rest of the directory are announcement-only mints.
const SIM_MINTS: usize = 100;
const DIRECTORY_MINTS: usize = 9_900;
const DIRECTORY_REVIEWS: usize = 20_000;
/// In the past, so every simulated event is older than now.
const AS_OF: u64 = 1_790_000_000;

/// The simulator's part of the corpus (as the indexer's end-to-end bench plays it, plus one of
/// each misbehaviour so findings exist).
fn sim_config() -> SimConfig {
    common::burns_sim_config(AS_OF, SIM_MINTS, Misbehaviour::defaults())
}

// ---------------------------------------------------------------------------------------------
// The corpus

const ADJECTIVES: &[&str] = &[
    "lightning",
    "satoshi",
    "orange",
    "northern",
    "quiet",
    "honest",
    "swift",
    "golden",
    "silver",
    "alpine",
    "harbor",
    "river",
    "coastal",
    "midnight",
    "copper",
    "cedar",
    "granite",
    "lunar",
    "solar",
    "amber",
    "cobalt",
    "maple",
    "prairie",
    "summit",
    "velvet",
    "willow",
    "falcon",
    "crimson",
    "emerald",
    "sapphire",
];
const NOUNS: &[&str] = &[
    "bank",
    "vault",
    "sats",
    "cashu",
    "mint",
    "coin",
    "wallet",
    "forge",
    "market",
    "garden",
    "bridge",
    "tower",
    "station",
    "collective",
    "cooperative",
    "guild",
    "exchange",
    "reserve",
    "node",
    "hub",
];
const CITIES: &[&str] = &[
    "Berlin",
    "Lisbon",
    "Austin",
    "Zurich",
    "Prague",
    "Nairobi",
    "Buenos Aires",
    "Tokyo",
    "Toronto",
    "Madeira",
    "El Zonte",
    "Oslo",
    "Warsaw",
    "Riga",
    "Tbilisi",
];
const TLDS: &[&str] = &["com", "io", "org", "net", "money", "cash", "xyz"];

/// 9,900 self-signed announcements with names, URLs and descriptions, and 20,000 reviews of them.
fn directory_events(rng: &mut StdRng) -> Vec<SignedEvent> {
    let keys: Vec<Keys> = (0..DIRECTORY_MINTS).map(|_| Keys::generate()).collect();
    let mut out = Vec::with_capacity(DIRECTORY_MINTS + DIRECTORY_REVIEWS);
    let t0 = AS_OF - 20 * 86_400;
    for (i, k) in keys.iter().enumerate() {
        let adj = ADJECTIVES[rng.gen_range(0..ADJECTIVES.len())];
        let noun = NOUNS[rng.gen_range(0..NOUNS.len())];
        let city = CITIES[rng.gen_range(0..CITIES.len())];
        let tld = TLDS[rng.gen_range(0..TLDS.len())];
        let name = format!("{} {} {i}", capital(adj), capital(noun));
        let url = format!("https://{adj}{noun}{i}.{tld}");
        let about = format!(
            "{name} is a {adj} Cashu mint run from {city}: ecash for sats over lightning, \
             NUT-07 state checks, published burns and a public {noun} of reserves."
        );
        let hex = k.public_key().to_hex();
        let content = serde_json::json!({ "name": name, "about": about }).to_string();
        let tags = [
            Tag::parse(["d", &hex]).expect("tag"),
            Tag::parse(["u", &url]).expect("tag"),
            Tag::parse(["nuts", "1,2,3,4,5,7,8,9,10,11,12"]).expect("tag"),
            Tag::parse(["n", "mainnet"]).expect("tag"),
        ];
        let e = EventBuilder::new(Kind::Custom(kinds::MINT_ANNOUNCEMENT), content)
            .tags(tags)
            .custom_created_at(Timestamp::from(t0 + i as u64))
            .sign_with_keys(k)
            .expect("sign");
        out.push(SignedEvent::from(&e));
    }
    let reviewers: Vec<Keys> = (0..DIRECTORY_REVIEWS / 100)
        .map(|_| Keys::generate())
        .collect();
    for r in 0..DIRECTORY_REVIEWS {
        let reviewer = &reviewers[r / 100];
        // Each reviewer reviews 100 distinct mints.
        let m = (r / 100 * 37 + (r % 100) * 97) % DIRECTORY_MINTS;
        let mint_hex = keys[m].public_key().to_hex();
        let tags = [
            Tag::parse(["d", &mint_hex]).expect("tag"),
            Tag::parse(["k", "38172"]).expect("tag"),
            Tag::parse(["a", &format!("38172:{mint_hex}:{mint_hex}"), "", "cashu"]).expect("tag"),
            Tag::parse(["rating", &(rng.gen_range(1..=5u8)).to_string()]).expect("tag"),
        ];
        let e = EventBuilder::new(
            Kind::Custom(kinds::RECOMMENDATION),
            format!("Review {r}: paid an invoice, tokens arrived, melted fine."),
        )
        .tags(tags)
        .custom_created_at(Timestamp::from(t0 + 86_400 + r as u64))
        .sign_with_keys(reviewer)
        .expect("sign");
        out.push(SignedEvent::from(&e));
    }
    out
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

async fn admin() -> sqlx::PgConnection {
    sqlx::PgConnection::connect(&format!("{}/postgres", server_url()))
        .await
        .expect("connect to the postgres database (is PostgreSQL running?)")
}

async fn counts(store: &Store) -> (i64, i64) {
    let burns: i64 = sqlx::query_scalar("SELECT count(*) FROM burns")
        .fetch_one(store.pool())
        .await
        .expect("count burns");
    let mints: i64 = sqlx::query_scalar("SELECT count(*) FROM mints")
        .fetch_one(store.pool())
        .await
        .expect("count mints");
    (burns, mints)
}

/// The bench database, reused if it holds the corpus, else (re)built.
async fn bench_store(name: &str) -> Store {
    let url = format!("{}/{name}", server_url());
    let rebuild = std::env::var("MW_BENCH_REBUILD").is_ok_and(|v| v == "1");
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&mut admin().await)
            .await
            .expect("pg_database");
    if exists && !rebuild {
        let store = Store::connect(&url).await.expect("connect bench database");
        store.migrate().await.expect("migrate");
        let (burns, mints) = counts(&store).await;
        if burns >= MIN_BURNS && mints >= MIN_MINTS {
            println!("corpus: reusing database {name} ({burns} burns, {mints} mints; MW_BENCH_REBUILD=1 to refill)");
            return store;
        }
        println!("corpus: database {name} holds {burns} burns, {mints} mints: rebuilding");
        store.close().await;
    }
    let mut a = admin().await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut a)
        .await
        .expect("drop");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut a)
        .await
        .expect("create");
    let store = Store::connect(&url).await.expect("connect bench database");
    store.migrate().await.expect("migrate");
    fill(&store).await;
    let (burns, mints) = counts(&store).await;
    assert!(
        burns >= MIN_BURNS && mints >= MIN_MINTS,
        "filled {burns} burns, {mints} mints"
    );
    println!(
        "corpus: filled database {name}: {burns} burns, {mints} mints (kept for the next run)"
    );
    store
}

/// Every event through `Ingest` from memory, as the crawler would hand them over.
async fn fill(store: &Store) {
    let start = Instant::now();
    let analyzer = Analyzer::new(
        store.clone(),
        AnalyzeConfig {
            as_of: Some(AS_OF),
            ..AnalyzeConfig::default()
        },
    );
    let ingest = Ingest::new(
        store.clone(),
        analyzer,
        IngestConfig::default(),
        KnownMintKeys::default(),
    );
    let (tx, rx) = mpsc::channel(1024);
    let run = tokio::spawn(ingest.run(rx));
    let relay: RelayUrl = Arc::from("ws://bench.invalid");
    let send = |events: Vec<SignedEvent>| {
        let (tx, relay) = (tx.clone(), relay.clone());
        async move {
            for e in events {
                tx.send(Delivery::Event {
                    relay: relay.clone(),
                    json: e.to_json().into_boxed_str(),
                })
                .await
                .expect("ingest is running");
            }
        }
    };
    let mut rng = StdRng::seed_from_u64(7);
    let directory = directory_events(&mut rng);
    let n_dir = directory.len();
    send(directory).await;
    let mut sim = Simulator::new(sim_config()).expect("valid simulation");
    let (mut burns, mut events) = (0u64, n_dir);
    while burns < MIN_BURNS as u64 {
        let round = tokio::task::block_in_place(|| sim.next_round());
        burns += round.iter().map(common::burns_in).sum::<u64>();
        events += round.len();
        send(round).await;
        println!(
            "  fill: round {}, {burns} burns published, {:.0} s",
            sim.round(),
            start.elapsed().as_secs_f64()
        );
    }
    drop(tx);
    run.await.expect("ingest task").expect("ingest ends");
    let mut analyzer = Analyzer::new(
        store.clone(),
        AnalyzeConfig {
            as_of: Some(AS_OF),
            ..AnalyzeConfig::default()
        },
    );
    analyzer.refresh_all().await.expect("analysis");
    sqlx::query("VACUUM ANALYZE")
        .execute(store.pool())
        .await
        .expect("vacuum");
    println!(
        "  fill: {events} events ({burns} burns) ingested and analysed in {:.0} s",
        start.elapsed().as_secs_f64()
    );
}

/// What the requests pick from.
struct Samples {
    known: Vec<Point>,
    unknown: Vec<Point>,
    mints: Vec<MintKey>,
    words: Vec<String>,
}

async fn samples(store: &Store, rng: &mut StdRng) -> Samples {
    let known: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT y FROM burns TABLESAMPLE SYSTEM (2) LIMIT 20000")
            .fetch_all(store.pool())
            .await
            .expect("sample burns");
    let mut known: Vec<Point> = known
        .iter()
        .map(|b| Point::from_bytes(b).expect("stored Y"))
        .collect();
    known.shuffle(rng);
    known.truncate(5_000);
    let unknown: Vec<Point> = (0..5_000)
        .map(|_| {
            let secret: [u8; 32] = rng.gen();
            hash_to_curve(hex::encode(secret).as_bytes()).expect("hash_to_curve")
        })
        .collect();
    let rows: Vec<(Vec<u8>, Option<String>)> = sqlx::query_as("SELECT key, name FROM mints")
        .fetch_all(store.pool())
        .await
        .expect("mints");
    let mints: Vec<MintKey> = rows
        .iter()
        .map(|(k, _)| {
            MintKey::from_x_only_bytes(k.as_slice().try_into().expect("32 bytes")).expect("key")
        })
        .collect();
    let words: BTreeSet<String> = rows
        .iter()
        .filter_map(|(_, n)| n.as_ref())
        .flat_map(|n| n.split_whitespace())
        .filter(|w| w.len() >= 4 && w.chars().all(char::is_alphabetic))
        .map(str::to_lowercase)
        .collect();
    Samples {
        known,
        unknown,
        mints,
        words: words.into_iter().collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// The server child

fn server_child() {
    let url = std::env::var("MW_BENCH_DB_URL").expect("MW_BENCH_DB_URL");
    let rt = common::runtime();
    rt.block_on(async {
        let store = Store::connect(&url).await.expect("connect");
        let state = ApiState::new(store, metrics_recorder().expect("recorder"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        println!("READY {port}");
        std::io::stdout().flush().expect("flush");
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let mut rest = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut rest);
            let _ = stop_tx.send(());
        });
        serve(listener, state, async {
            let _ = stop_rx.await;
        })
        .await
        .expect("serve");
    });
}

// ---------------------------------------------------------------------------------------------
// Load generators

/// One kind of request, with the paths (GET) or bodies (POST) it picks from.
struct Route {
    name: &'static str,
    post: Option<&'static str>,
    lines: Vec<String>,
}

struct Percentiles {
    p50: f64,
    p99: f64,
    p999: f64,
    max: f64,
}

fn percentiles(mut us: Vec<u64>) -> Percentiles {
    us.sort_unstable();
    let at = |q: f64| {
        let i = ((us.len() as f64 * q).ceil() as usize).clamp(1, us.len()) - 1;
        us[i] as f64 / 1000.0
    };
    Percentiles {
        p50: at(0.50),
        p99: at(0.99),
        p999: at(0.999),
        max: us.last().map_or(0.0, |m| *m as f64 / 1000.0),
    }
}

const WRK_LUA: &str = r#"
local lines = {}
local method = nil
local counter = 0
setup = function(thread)
  thread:set("id", counter)
  counter = counter + 1
end
init = function(args)
  for l in io.lines(args[1]) do lines[#lines + 1] = l end
  method = args[2]
  math.randomseed(os.time() * 7 + id)
end
request = function()
  local l = lines[math.random(#lines)]
  if method == "GET" then
    return wrk.format("GET", l)
  end
  return wrk.format("POST", method, {["Content-Type"] = "application/json"}, l)
end
"#;

struct Closed {
    rps: f64,
    p50: String,
    p99: String,
    errors: u64,
}

/// wrk, 2 threads, 32 connections, 10 s.
fn wrk(base: &str, route: &Route, dir: &Path) -> Option<Closed> {
    let bin = std::env::var("MW_BENCH_WRK").unwrap_or_else(|_| "/usr/bin/wrk".into());
    if !Path::new(&bin).exists() {
        return None;
    }
    let script = dir.join("pick.lua");
    std::fs::write(&script, WRK_LUA).expect("lua");
    let lines = dir.join(format!(
        "{}.txt",
        route.name.replace(['/', ' ', '?', '{', '}'], "_")
    ));
    std::fs::write(&lines, route.lines.join("\n") + "\n").expect("lines");
    let out = Command::new(bin)
        .args(["-t2", "-c32", "-d10s", "--latency", "-s"])
        .arg(&script)
        .arg(base)
        .arg("--")
        .arg(&lines)
        .arg(route.post.unwrap_or("GET"))
        .output()
        .expect("wrk runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("?")
            .to_string()
    };
    let rps = field("Requests/sec:").parse().unwrap_or(0.0);
    let errors = text
        .lines()
        .find(|l| l.contains("Non-2xx"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    Some(Closed {
        rps,
        p50: field("50%"),
        p99: field("99%"),
        errors,
    })
}

struct Open {
    sent: usize,
    achieved: f64,
    latency: Percentiles,
    /// How late the generator sent, against the schedule.
    lag: Percentiles,
    errors: usize,
}

/// `rate` requests a second for `secs`, each at its scheduled time whatever happened to the ones
/// before; latency from the scheduled time to the whole body received.
async fn open_loop(
    client: &reqwest::Client,
    base: &str,
    route: &Route,
    rate: f64,
    secs: f64,
) -> Open {
    let n = (rate * secs) as usize;
    let mut rng = StdRng::seed_from_u64(rate as u64);
    let (tx, mut rx) = mpsc::unbounded_channel::<(u64, u64, bool)>();
    let t0 = tokio::time::Instant::now() + Duration::from_millis(20);
    let start = Instant::now();
    for i in 0..n {
        let at = t0 + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(at).await;
        let line = &route.lines[rng.gen_range(0..route.lines.len())];
        let request = match route.post {
            None => client.get(format!("{base}{line}")),
            Some(path) => client
                .post(format!("{base}{path}"))
                .header("content-type", "application/json")
                .body(line.clone()),
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            let sent = tokio::time::Instant::now();
            let ok = match request.send().await {
                Ok(r) => {
                    let ok = r.status().is_success();
                    r.bytes().await.is_ok() && ok
                }
                Err(_) => false,
            };
            let done = tokio::time::Instant::now();
            let _ = tx.send((
                (done - at).as_micros() as u64,
                sent.saturating_duration_since(at).as_micros() as u64,
                ok,
            ));
        });
    }
    drop(tx);
    let (mut latency, mut lag, mut errors) = (Vec::with_capacity(n), Vec::with_capacity(n), 0);
    while let Some((l, g, ok)) = rx.recv().await {
        latency.push(l);
        lag.push(g);
        errors += usize::from(!ok);
    }
    Open {
        sent: n,
        achieved: n as f64 / start.elapsed().as_secs_f64(),
        latency: percentiles(latency),
        lag: percentiles(lag),
        errors,
    }
}

/// The bare SQL of a one-`Y` lookup through sqlx, 8 connections in a closed loop for `secs`.
async fn sql_baseline(store: &Store, ys: &[Point], secs: f64) -> (f64, Percentiles) {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for t in 0..8usize {
        let (pool, ys) = (store.pool().clone(), ys.to_vec());
        tasks.push(tokio::spawn(async move {
            let mut us = Vec::new();
            let mut i = t;
            while Instant::now() < deadline {
                let y = ys[i % ys.len()].as_bytes().to_vec();
                i += 8;
                let s = Instant::now();
                let _rows: Vec<(Vec<u8>, Vec<u8>, i64)> =
                    sqlx::query_as("SELECT mint, event_id, amount FROM burns WHERE y = $1")
                        .bind(y)
                        .fetch_all(&pool)
                        .await
                        .expect("lookup");
                us.push(s.elapsed().as_micros() as u64);
            }
            us
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    (all.len() as f64 / secs, percentiles(all))
}

// ---------------------------------------------------------------------------------------------
// Query service

/// An ephemeral kind (20000..30000, as 28172 and 28173 are) for the relay baseline.
const EPHEMERAL_ECHO: u16 = 20_001;

struct Wallet {
    client: Client,
    notes: tokio::sync::broadcast::Receiver<RelayPoolNotification>,
}

impl Wallet {
    async fn connect(relay: &str, service: nostr::PublicKey) -> Wallet {
        let client = connected_client(relay).await;
        let notes = client.notifications();
        client
            .subscribe(
                Filter::new()
                    .kind(Kind::Custom(kinds::SERVICE_RESPONSE))
                    .author(service)
                    .since(Timestamp::now() - Duration::from_secs(5)),
                None,
            )
            .await
            .expect("subscribe to responses");
        Wallet { client, notes }
    }

    /// Sends `query` under a fresh key and waits for its answer; the round trip and the method
    /// answered (an error answer panics: the bench measures answers, not refusals).
    async fn ask(&mut self, service: &nostr::PublicKey, query: &Query) -> (Duration, Duration) {
        let keys = Keys::generate();
        let request = build_request(&keys, service, query).expect("request builds");
        let start = Instant::now();
        self.client
            .send_event(&request.to_nostr().expect("converts"))
            .await
            .expect("sent");
        let sent = start.elapsed();
        loop {
            let note = tokio::time::timeout(Duration::from_secs(30), self.notes.recv())
                .await
                .expect("a response within 30 s")
                .expect("notifications");
            let RelayPoolNotification::Event { event, .. } = note else {
                continue;
            };
            let event = SignedEvent::from(&*event);
            let Ok(opened) = open_response(&keys, &event) else {
                continue;
            };
            if opened.request != request.id {
                continue;
            }
            let took = start.elapsed();
            assert!(
                opened.response.error.is_none(),
                "{query:?}: {:?}",
                opened.response.error
            );
            return (took, sent);
        }
    }

    /// Baseline: a kind-20002 event to [`ponger`], until its answer is heard.
    async fn ping(&mut self, keys: &Keys) -> Duration {
        let event = EventBuilder::new(
            Kind::Custom(PING),
            format!("ping {}", rand::random::<u64>()),
        )
        .sign_with_keys(keys)
        .expect("sign");
        let want = event.id.to_hex();
        let start = Instant::now();
        self.client.send_event(&event).await.expect("sent");
        loop {
            let note = tokio::time::timeout(Duration::from_secs(30), self.notes.recv())
                .await
                .expect("pong within 30 s")
                .expect("notifications");
            if let RelayPoolNotification::Event { event: e, .. } = note {
                if e.kind == Kind::Custom(PONG) && e.content == want {
                    return start.elapsed();
                }
            }
        }
    }

    /// Baseline: a text note sent by another client (`sender`, as the service would),
    /// heard back through this wallet's subscription. (nostr-sdk does not notify a client of
    /// an event it sent itself.)
    async fn echo(&mut self, sender: &Client, keys: &Keys, kind: Kind, pad: usize) -> Duration {
        let event = EventBuilder::new(
            kind,
            format!("ping {} {}", rand::random::<u64>(), "x".repeat(pad)),
        )
        .sign_with_keys(keys)
        .expect("sign");
        let start = Instant::now();
        sender.send_event(&event).await.expect("sent");
        loop {
            let note = tokio::time::timeout(Duration::from_secs(30), self.notes.recv())
                .await
                .expect("echo within 30 s")
                .expect("notifications");
            if let RelayPoolNotification::Event { event: e, .. } = note {
                if e.id == event.id {
                    return start.elapsed();
                }
            }
        }
    }
}

/// A second nostr-sdk client that answers every kind-20002 event of `from` with a kind-20003
/// event naming it: the service's path (hear a request, send an answer) without mintwatch code.
async fn ponger(relay: &str, from: nostr::PublicKey) -> (Client, nostr::PublicKey) {
    let keys = Keys::generate();
    let client = connected_client(relay).await;
    let mut notes = client.notifications();
    client
        .subscribe(Filter::new().kind(Kind::Custom(PING)).author(from), None)
        .await
        .expect("subscribe to pings");
    let (c, k) = (client.clone(), keys.clone());
    tokio::spawn(async move {
        loop {
            match notes.recv().await {
                Ok(RelayPoolNotification::Event { event, .. })
                    if event.kind == Kind::Custom(PING) =>
                {
                    let pong = EventBuilder::new(Kind::Custom(PONG), event.id.to_hex())
                        .sign_with_keys(&k)
                        .expect("sign");
                    let _ = c.send_event(&pong).await;
                }
                Ok(RelayPoolNotification::Shutdown) | Err(_) => break,
                Ok(_) => {}
            }
        }
    });
    (client, keys.public_key())
}

const PING: u16 = 20_002;
const PONG: u16 = 20_003;

fn ms_line(name: &str, d: &[Duration]) -> String {
    let p = percentiles(d.iter().map(|d| d.as_micros() as u64).collect());
    format!(
        "  {name:<38} n={:<4} p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
        d.len(),
        p.p50,
        p.p99,
        p.max
    )
}

async fn query_service(store: &Store, s: &Samples, rng: &mut StdRng) {
    println!("\nquery service (NostrService on an in-process relay; one request at a time):");
    let relay = TestRelay::start(None).await;
    let service_keys = Keys::generate();
    let service = NostrService {
        rate_limit: RateLimit {
            burst: 1_000_000,
            per_second: 1_000_000.0,
        },
        scan_every: Duration::from_secs(3_600),
        publish_interval: Duration::from_secs(3_600),
        ..NostrService::new(vec![relay.url.clone()], service_keys.clone())
    };
    let started = Instant::now();
    let handle = service.start(store.clone()).await.expect("service starts");
    // The first scan publishes an assertion per mint: let it finish before measuring.
    let mut last = (u64::MAX, Instant::now());
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let c = handle.stats();
        let n = c.assertions + c.labels;
        if n != last.0 {
            last = (n, Instant::now());
        } else if n > 0 && last.1.elapsed() > Duration::from_secs(3) {
            break;
        }
        if started.elapsed() > Duration::from_secs(300) {
            break;
        }
    }
    let c = handle.stats();
    println!(
        "  (first publisher scan: {} assertions, {} labels in {:.1} s, not measured; load {})",
        c.assertions,
        c.labels,
        last.1.duration_since(started).as_secs_f64(),
        common::load()
    );
    let pk = handle.public_key();
    let mut wallet = Wallet::connect(&relay.url, pk).await;
    let echo_keys = Keys::generate();
    let (pong_client, pong_key) = ponger(&relay.url, echo_keys.public_key()).await;
    wallet
        .client
        .subscribe(
            Filter::new().kind(Kind::Custom(PONG)).author(pong_key),
            None,
        )
        .await
        .expect("subscribe to pongs");
    let sender = connected_client(&relay.url).await;
    wallet
        .client
        .subscribe(
            Filter::new()
                .kinds([Kind::TextNote, Kind::Custom(EPHEMERAL_ECHO)])
                .author(echo_keys.public_key()),
            None,
        )
        .await
        .expect("subscribe to own echo");
    let n = 200;
    let mut queries: Vec<(&str, Query)> = Vec::new();
    for i in 0..n {
        let mut ys: Vec<Point> = (0..5)
            .map(|j| s.known[(i * 5 + j) % s.known.len()])
            .collect();
        ys.extend((0..5).map(|j| s.unknown[(i * 5 + j) % s.unknown.len()]));
        queries.push((
            "check_spent (10 Ys, 5 burnt)",
            Query::CheckSpent(CheckSpent { ys, mint: None }),
        ));
        queries.push((
            "get_mint",
            Query::GetMint(MintParam {
                mint: s.mints[rng.gen_range(0..s.mints.len())],
            }),
        ));
        queries.push((
            "search_mints (one word)",
            Query::SearchMints(DirectoryQuery {
                q: Some(s.words[rng.gen_range(0..s.words.len())].clone()),
                ..DirectoryQuery::default()
            }),
        ));
    }
    // Warm-up.
    for (_, q) in queries.iter().take(30) {
        wallet.ask(&pk, q).await;
    }
    let (mut echo, mut echo_ephemeral, mut echo_large) = (Vec::new(), Vec::new(), Vec::new());
    let mut pings = Vec::new();
    let mut rt: HashMap<&str, Vec<Duration>> = HashMap::new();
    let mut sends = Vec::new();
    for (name, q) in &queries {
        let (took, sent) = wallet.ask(&pk, q).await;
        rt.entry(name).or_default().push(took);
        sends.push(sent);
        echo.push(wallet.echo(&sender, &echo_keys, Kind::TextNote, 0).await);
        echo_large.push(
            wallet
                .echo(&sender, &echo_keys, Kind::TextNote, 4_096)
                .await,
        );
        pings.push(wallet.ping(&echo_keys).await);
        echo_ephemeral.push(
            wallet
                .echo(&sender, &echo_keys, Kind::Custom(EPHEMERAL_ECHO), 0)
                .await,
        );
    }
    // In process, no relay: what answering costs.
    let direct = QueryService::new(store.clone(), service_keys.clone());
    let mut inproc: HashMap<&str, Vec<Duration>> = HashMap::new();
    for (name, q) in &queries {
        let request = build_request(&Keys::generate(), &pk, q).expect("builds");
        let s = Instant::now();
        let r = direct.answer(&request).await;
        inproc.entry(name).or_default().push(s.elapsed());
        assert!(r.error.is_none());
    }
    println!("  load: {}", common::load());
    println!(
        "{}",
        ms_line("relay relays a kind-1 note (baseline)", &echo)
    );
    println!(
        "{}",
        ms_line("relay relays a kind-20001 event", &echo_ephemeral)
    );
    println!(
        "{}",
        ms_line("relay relays a 4 KiB kind-1 note", &echo_large)
    );
    println!(
        "{}",
        ms_line("ping → other nostr-sdk client → pong", &pings)
    );
    let all: Vec<Duration> = rt.values().flatten().copied().collect();
    println!("{}", ms_line("round trip, all methods", &all));
    println!(
        "{}",
        ms_line("  of which the request's send (to OK)", &sends)
    );
    let mut names: Vec<&&str> = rt.keys().collect();
    names.sort();
    for name in names {
        println!("{}", ms_line(&format!("round trip, {name}"), &rt[*name]));
        println!(
            "{}",
            ms_line("  QueryService::answer in process", &inproc[*name])
        );
    }
    drop(wallet);
    sender.shutdown().await;
    pong_client.shutdown().await;
    handle.stop().await;
    relay.shutdown();
}

// ---------------------------------------------------------------------------------------------

fn routes(s: &Samples, rng: &mut StdRng) -> Vec<Route> {
    let mut ys: Vec<String> = Vec::new();
    for i in 0..s.known.len().min(s.unknown.len()) {
        ys.push(format!("/v1/spent/{}", s.known[i].to_hex()));
        ys.push(format!("/v1/spent/{}", s.unknown[i].to_hex()));
    }
    ys.shuffle(rng);
    let bodies: Vec<String> = (0..500)
        .map(|b| {
            let mut batch: Vec<String> = (0..50)
                .map(|j| s.known[(b * 50 + j) % s.known.len()].to_hex())
                .chain((0..50).map(|j| s.unknown[(b * 50 + j) % s.unknown.len()].to_hex()))
                .collect();
            batch.shuffle(rng);
            serde_json::json!({ "Ys": batch }).to_string()
        })
        .collect();
    let mut keys: Vec<String> = s.mints.iter().map(|k| format!("/v1/mints/{k}")).collect();
    keys.shuffle(rng);
    let searches: Vec<String> = s.words.iter().map(|w| format!("/v1/mints?q={w}")).collect();
    vec![
        Route {
            name: "GET /healthz (baseline)",
            post: None,
            lines: vec!["/healthz".into()],
        },
        Route {
            name: "GET /v1/spent/{Y}",
            post: None,
            lines: ys,
        },
        Route {
            name: "POST /v1/spent (100 Ys)",
            post: Some("/v1/spent"),
            lines: bodies,
        },
        Route {
            name: "GET /v1/mints/{key}",
            post: None,
            lines: keys,
        },
        Route {
            name: "GET /v1/mints?q=word",
            post: None,
            lines: searches,
        },
    ]
}

fn print_open(name: &str, rate: f64, o: &Open) {
    println!(
        "  {name:<26} {rate:>6.0}/s open loop: achieved {:>6.0}/s, p50 {:>6.2} p99 {:>7.2} p99.9 {:>7.2} max {:>7.2} ms; send lag p99 {:.2} ms; {} of {} failed",
        o.achieved, o.latency.p50, o.latency.p99, o.latency.p999, o.latency.max, o.lag.p99, o.errors, o.sent
    );
}

fn main() {
    if std::env::var("MW_BENCH_ROLE").as_deref() == Ok("server") {
        server_child();
        return;
    }
    println!("machine: {}", common::machine());
    let secs: f64 = std::env::var("MW_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10.0);
    let db = std::env::var("MW_BENCH_DB").unwrap_or_else(|_| "mintwatch_bench_http".into());
    let rt = common::runtime();
    rt.block_on(async {
        let store = bench_store(&db).await;
        let mut rng = StdRng::seed_from_u64(42);
        let s = samples(&store, &mut rng).await;
        println!(
            "samples: {} burnt Ys, {} unknown Ys, {} mint keys, {} search words",
            s.known.len(),
            s.unknown.len(),
            s.mints.len(),
            s.words.len()
        );
        let mut routes = routes(&s, &mut rng);
        if let Ok(keep) = std::env::var("MW_BENCH_ROUTES") {
            routes.retain(|r| {
                r.name.starts_with("GET /healthz") || keep.split(',').any(|k| r.name.contains(k))
            });
        }

        let only = std::env::var("MW_BENCH_ONLY").unwrap_or_default();
        if only != "nostr" {
            http_load(&store, &s, &routes, &db, secs).await;
        }
        if only != "http" {
            query_service(&store, &s, &mut rng).await;
        }
        println!("\nload at the end: {}", common::load());
        store.close().await;
    });
}

async fn http_load(store: &Store, s: &Samples, routes: &[Route], db: &str, secs: f64) {
    {
        let (mut child, f) = common::spawn_role(
            "server",
            &[("MW_BENCH_DB_URL", format!("{}/{db}", server_url()))],
        );
        let port: u16 = f
            .first()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("server child said READY {f:?}"));
        let base = format!("http://127.0.0.1:{port}");
        println!("server: child process pid {}, {base}", child.id());

        let dir = tempfile::tempdir().expect("temp dir");
        println!("\nclosed loop (wrk -t2 -c32 -d10s; latency is wrk's, closed loop):");
        let mut max: HashMap<&str, f64> = HashMap::new();
        for r in routes {
            match wrk(&base, r, dir.path()) {
                Some(c) => {
                    println!(
                        "  {:<26} {:>8.0} req/s  p50 {:>8} p99 {:>8}  non-2xx {}  (load {})",
                        r.name,
                        c.rps,
                        c.p50,
                        c.p99,
                        c.errors,
                        common::load()
                    );
                    assert_eq!(c.errors, 0, "{}: wrk saw error answers", r.name);
                    max.insert(r.name, c.rps);
                }
                None => println!("  wrk not found: closed-loop figures skipped"),
            }
        }

        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .tcp_nodelay(true)
            .build()
            .expect("client");
        println!(
            "\nopen loop ({secs} s each after 2 s of warm-up; latency from the scheduled time):"
        );
        for r in routes {
            let target = match r.name {
                "GET /healthz (baseline)" | "GET /v1/spent/{Y}" => vec![1_000.0, 5_000.0],
                _ => {
                    let m = max.get(r.name).copied().unwrap_or(1_000.0);
                    // 50 % of the closed-loop maximum, and a fixed 100/s everyone can compare.
                    vec![100.0, (m * 0.5).round().max(50.0)]
                }
            };
            for rate in target {
                open_loop(&client, &base, r, rate, 2.0).await;
                let o = open_loop(&client, &base, r, rate, secs).await;
                print_open(r.name, rate, &o);
            }
            println!("    (load {})", common::load());
        }

        let ys: Vec<Point> = s
            .known
            .iter()
            .zip(&s.unknown)
            .flat_map(|(a, b)| [*a, *b])
            .collect();
        let (qps, p) = sql_baseline(store, &ys, secs).await;
        println!(
            "\nbare SQL one-Y lookup (sqlx, this process, 8 connections, closed loop): {qps:.0}/s, p50 {:.2} p99 {:.2} ms",
            p.p50, p.p99
        );

        drop(child.stdin.take());
        let _ = child.wait();
    }
}
