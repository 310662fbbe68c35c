//! Verification stage benchmark: events/s of `verify_batch` (id + BIP-340 signature, author keys
//! parsed once per batch) on one thread and on all cores, against raw secp256k1 BIP-340 verify of
//! the same events measured in the same run. Prints its figures; `cargo bench -p
//! mintwatch-protocol --bench verify`.

use std::time::{Duration, Instant};

use mintwatch_protocol::event::verify_batch;
use mintwatch_protocol::SignedEvent;
use nostr::{EventBuilder, Keys, Kind, Tag, Timestamp};
use rayon::prelude::*;
use secp256k1::schnorr::Signature;
use secp256k1::{Message, XOnlyPublicKey, SECP256K1};

const EVENTS: usize = 20_000;
const AUTHORS: usize = 200;

fn corpus() -> Vec<SignedEvent> {
    let authors: Vec<Keys> = (0..AUTHORS).map(|_| Keys::generate()).collect();
    // About 700 bytes of JSON each, like a real 38172 announcement.
    let content = format!(
        "{{\"name\":\"mint\",\"description\":\"{}\"}}",
        "x".repeat(330)
    );
    (0..EVENTS)
        .map(|i| {
            let keys = &authors[i % AUTHORS];
            let tags = [
                Tag::parse(["d", &keys.public_key().to_hex()]).expect("tag"),
                Tag::parse(["u", &format!("https://mint{i}.example.com")]).expect("tag"),
                Tag::parse(["nuts", "0,1,2,3,4,5,7,8,9,10,11,12"]).expect("tag"),
            ];
            let event = EventBuilder::new(Kind::Custom(38172), content.clone())
                .tags(tags)
                .custom_created_at(Timestamp::from(1_700_000_000 + i as u64))
                .sign_with_keys(keys)
                .expect("sign");
            SignedEvent::from(&event)
        })
        .collect()
}

/// Times `f` into `best` (the fastest run so far) and checks its count.
fn timed<F: FnMut() -> usize>(best: &mut Duration, expect: usize, mut f: F) {
    let start = Instant::now();
    let n = f();
    *best = (*best).min(start.elapsed());
    assert_eq!(n, expect, "every event must verify");
}

fn rate(count: usize, d: Duration) -> f64 {
    count as f64 / d.as_secs_f64()
}

/// Rounds of interleaved measurements: a burst of load from another process then hits the
/// baselines and the stage alike, and the best of each is kept.
const ROUNDS: usize = 5;

fn main() {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let events = corpus();
    let json: Vec<String> = events.iter().map(SignedEvent::to_json).collect();
    let avg_len = json.iter().map(String::len).sum::<usize>() / json.len();

    // Baseline: raw BIP-340 verify with keys, signatures and messages parsed beforehand.
    let prepared: Vec<(Signature, Message, XOnlyPublicKey)> = events
        .iter()
        .map(|e| {
            (
                Signature::from_slice(&e.sig).expect("sig"),
                Message::from_digest(e.id.0),
                XOnlyPublicKey::from_slice(&e.pubkey).expect("key"),
            )
        })
        .collect();
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let all = rayon::ThreadPoolBuilder::new()
        .num_threads(cores)
        .build()
        .expect("pool");
    let raw_verify = |(s, m, k): &(Signature, Message, XOnlyPublicKey)| {
        SECP256K1.verify_schnorr(s, m, k).is_ok()
    };
    let ok = |r: Vec<Result<(), _>>| r.iter().filter(|x: &&Result<(), _>| x.is_ok()).count();
    let from_json = || {
        let parsed: Vec<SignedEvent> = json
            .par_iter()
            .map(|j| SignedEvent::from_json(j).expect("json"))
            .collect();
        ok(verify_batch(&parsed))
    };
    let mut best = [Duration::MAX; 6];
    for _ in 0..ROUNDS {
        timed(&mut best[0], EVENTS, || {
            prepared.iter().filter(|p| raw_verify(p)).count()
        });
        timed(&mut best[1], EVENTS, || {
            all.install(|| prepared.par_iter().filter(|p| raw_verify(p)).count())
        });
        timed(&mut best[2], EVENTS, || {
            one.install(|| ok(verify_batch(&events)))
        });
        timed(&mut best[3], EVENTS, || {
            all.install(|| ok(verify_batch(&events)))
        });
        timed(&mut best[4], EVENTS, || one.install(from_json));
        timed(&mut best[5], EVENTS, || all.install(from_json));
    }
    let r = |i: usize| rate(EVENTS, best[i]);
    let raw = r(0);
    let ideal = raw * cores as f64;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("verification stage ({EVENTS} events of ~{avg_len} B JSON, {AUTHORS} authors, {cores} cores, best of {ROUNDS} interleaved; load {})", load.trim());
    println!("  raw secp256k1 BIP-340 verify, 1 core      {raw:>10.0} events/s  (baseline)");
    println!(
        "  raw secp256k1 BIP-340 verify, {cores} cores     {:>10.0} events/s  ({:.2} × cores × raw)",
        r(1),
        r(1) / ideal
    );
    println!(
        "  verify_batch, 1 thread                    {:>10.0} events/s  ({:.2} × raw)",
        r(2),
        r(2) / raw
    );
    println!(
        "  verify_batch, {cores} threads                   {:>10.0} events/s  ({:.2} × cores × raw; {:.2} × raw on {cores} cores)",
        r(3),
        r(3) / ideal,
        r(3) / r(1)
    );
    println!(
        "  JSON parse + verify_batch, 1 thread       {:>10.0} events/s  ({:.2} × raw)",
        r(4),
        r(4) / raw
    );
    println!(
        "  JSON parse + verify_batch, {cores} threads      {:>10.0} events/s  ({:.2} × cores × raw)",
        r(5),
        r(5) / ideal
    );
}
