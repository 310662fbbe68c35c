//! The query service bench: `NostrService` on an in-process relay, a wallet asking one request at
//! a time, against the relay's own echo and `QueryService::answer` in process.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use nostr_sdk::prelude::{Filter, Keys, Kind};
use rand::rngs::StdRng;
use rand::Rng;

use mintwatch_api::nostr::{NostrService, QueryService, RateLimit};
use mintwatch_protocol::output::{build_request, CheckSpent, DirectoryQuery, MintParam, Query};
use mintwatch_protocol::Point;
use mintwatch_store::Store;
use mintwatch_testkit::{connected_client, machine, TestRelay};

use crate::load::percentiles;
use crate::samples::Samples;
use crate::wallet::{ponger, Wallet, EPHEMERAL_ECHO, PONG};

pub(crate) fn ms_line(name: &str, d: &[Duration]) -> String {
    let p = percentiles(d.iter().map(|d| d.as_micros() as u64).collect());
    format!(
        "  {name:<38} n={:<4} p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
        d.len(),
        p.p50,
        p.p99,
        p.max
    )
}

pub(crate) async fn query_service(store: &Store, s: &Samples, rng: &mut StdRng) {
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
        machine::load()
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
    println!("  load: {}", machine::load());
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
