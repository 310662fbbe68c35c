//! Verification stage benchmark: events/s of `verify_batch` (id + BIP-340 signature, author keys
//! parsed once per batch) on one thread and on all cores, against raw secp256k1 BIP-340 verify of
//! the same events measured in the same run. Prints its figures; `cargo bench -p
//! mintwatch-protocol --bench verify`.

use std::time::{Duration, Instant};

use mintwatch_protocol::event::verify_batch;
use mintwatch_protocol::SignedEvent;
use nostr::{EventBuilder, Keys, Kind, Tag, Timestamp};
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

fn best_of<F: FnMut() -> usize>(runs: usize, mut f: F) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut count = 0;
    for _ in 0..runs {
        let start = Instant::now();
        count = f();
        best = best.min(start.elapsed());
    }
    (best, count)
}

fn rate(count: usize, d: Duration) -> f64 {
    count as f64 / d.as_secs_f64()
}

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
    let (raw_t, raw_n) = best_of(3, || {
        prepared
            .iter()
            .filter(|(s, m, k)| SECP256K1.verify_schnorr(s, m, k).is_ok())
            .count()
    });
    assert_eq!(raw_n, EVENTS);
    let raw = rate(raw_n, raw_t);

    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let all = rayon::ThreadPoolBuilder::new()
        .num_threads(cores)
        .build()
        .expect("pool");
    let ok = |r: Vec<Result<(), _>>| r.iter().filter(|x: &&Result<(), _>| x.is_ok()).count();
    let (t1, n1) = best_of(3, || one.install(|| ok(verify_batch(&events))));
    let (tn, nn) = best_of(3, || all.install(|| ok(verify_batch(&events))));
    assert_eq!((n1, nn), (EVENTS, EVENTS));

    // Reference: the whole per-event cost from JSON (parse + id + signature), one core.
    let (tj, nj) = best_of(3, || {
        one.install(|| {
            let parsed: Vec<SignedEvent> = json
                .iter()
                .map(|j| SignedEvent::from_json(j).expect("json"))
                .collect();
            ok(verify_batch(&parsed))
        })
    });

    let (r1, rn, rj) = (rate(n1, t1), rate(nn, tn), rate(nj, tj));
    println!("verification stage ({EVENTS} events of ~{avg_len} B JSON, {AUTHORS} authors, {cores} cores)");
    println!("  raw secp256k1 BIP-340 verify, 1 core      {raw:>10.0} events/s  (baseline)");
    println!(
        "  verify_batch, 1 thread                    {r1:>10.0} events/s  ({:.2} × raw)",
        r1 / raw
    );
    println!("  verify_batch, {cores} threads                   {rn:>10.0} events/s  ({:.2} × cores × raw)", rn / (raw * cores as f64));
    println!(
        "  JSON parse + verify_batch, 1 thread       {rj:>10.0} events/s  ({:.2} × raw)",
        rj / raw
    );
}
