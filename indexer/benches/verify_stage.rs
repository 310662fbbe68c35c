//! The indexer's verification stage as ingest runs it (`verify::decode` then
//! `verify::verify_and_parse`: id, BIP-340 signature, author keys parsed once per batch, content
//! parsed by kind) on one thread and on all cores, against raw secp256k1 BIP-340 verify of the
//! same events (keys, signatures and messages parsed beforehand) measured in the same run.
//! Measurements are interleaved and the best of each is kept, so load from other processes hits
//! baseline and stage alike. `cargo bench -p mintwatch-indexer --bench verify_stage`.

#![allow(clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use secp256k1::schnorr::Signature;
use secp256k1::{Message, XOnlyPublicKey, SECP256K1};

use mintwatch_indexer::pipeline::RelayUrl;
use mintwatch_indexer::verify::{self, Decoded, KnownMintKeys};
use mintwatch_testkit::{bench, corpus, machine};

const EVENTS: usize = 16_384;
/// Ingest's default batch size.
const BATCH: usize = 4_096;
const ROUNDS: usize = 5;

fn timed<F: FnMut() -> usize>(best: &mut Duration, expect: usize, mut f: F) {
    let start = Instant::now();
    let n = f();
    *best = (*best).min(start.elapsed());
    assert_eq!(n, expect, "every event must pass");
}

fn main() {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!("machine: {}", machine::machine());
    let events = corpus::small_events(EVENTS, 512);
    let relay: RelayUrl = Arc::from("ws://bench");
    let raw: Vec<Vec<(RelayUrl, Box<str>)>> = events
        .chunks(BATCH)
        .map(|c| {
            c.iter()
                .map(|e| (relay.clone(), e.to_json().into_boxed_str()))
                .collect()
        })
        .collect();
    let avg_len = raw.iter().flatten().map(|(_, j)| j.len()).sum::<usize>() / EVENTS;
    let prepared = bench::raw_verify_inputs(&events);
    let decoded: Vec<Vec<Decoded>> = raw
        .iter()
        .map(|b| {
            let (d, refused) = verify::decode(b.clone());
            assert!(refused.is_empty());
            d
        })
        .collect();
    let pools: Vec<rayon::ThreadPool> = [1, cores]
        .iter()
        .map(|&n| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .expect("pool")
        })
        .collect();

    let raw_verify = |p: &(Signature, Message, XOnlyPublicKey)| {
        SECP256K1.verify_schnorr(&p.0, &p.1, &p.2).is_ok()
    };
    let stage = |batches: &[Vec<Decoded>]| -> usize {
        let mut known = KnownMintKeys::default();
        batches
            .iter()
            .map(|b| {
                verify::verify_and_parse(b.clone(), &mut known)
                    .verified
                    .len()
            })
            .sum()
    };
    let stage_from_json = |batches: &[Vec<(RelayUrl, Box<str>)>]| -> usize {
        let mut known = KnownMintKeys::default();
        batches
            .iter()
            .map(|b| {
                let (d, _) = verify::decode(b.clone());
                verify::verify_and_parse(d, &mut known).verified.len()
            })
            .sum()
    };
    // The clone of each batch that `stage` makes (ingest owns its batch and does not copy), timed
    // alone so it can be subtracted.
    let clone_only = |batches: &[Vec<Decoded>]| -> usize {
        batches
            .iter()
            .map(|b| std::hint::black_box(b.clone()).len())
            .sum()
    };

    let mut best = [Duration::MAX; 7];
    for _ in 0..ROUNDS {
        timed(&mut best[0], EVENTS, || {
            prepared.iter().filter(|p| raw_verify(p)).count()
        });
        timed(&mut best[1], EVENTS, || {
            pools[1].install(|| prepared.par_iter().filter(|p| raw_verify(p)).count())
        });
        timed(&mut best[2], EVENTS, || {
            pools[0].install(|| stage(&decoded))
        });
        timed(&mut best[3], EVENTS, || {
            pools[1].install(|| stage(&decoded))
        });
        timed(&mut best[4], EVENTS, || {
            pools[0].install(|| stage_from_json(&raw))
        });
        timed(&mut best[5], EVENTS, || {
            pools[1].install(|| stage_from_json(&raw))
        });
        timed(&mut best[6], EVENTS, || clone_only(&decoded));
    }
    let r = |i: usize| EVENTS as f64 / best[i].as_secs_f64();
    let minus_clone = |i: usize| EVENTS as f64 / (best[i] - best[6].min(best[i])).as_secs_f64();
    let raw1 = r(0);
    let ideal = raw1 * cores as f64;
    println!(
        "verification stage, indexer ({EVENTS} events of ~{avg_len} B JSON, kinds 38172/38000, \
         batches of {BATCH}, {cores} cores, best of {ROUNDS} interleaved)"
    );
    println!("  raw secp256k1 verify, 1 core          {raw1:>9.0} /s  (baseline)");
    println!(
        "  raw secp256k1 verify, {cores} cores         {:>9.0} /s  ({:.2} × cores × raw)",
        r(1),
        r(1) / ideal
    );
    println!(
        "  verify_and_parse, 1 thread            {:>9.0} /s  ({:.2} × raw)",
        minus_clone(2),
        minus_clone(2) / raw1
    );
    println!(
        "  verify_and_parse, {cores} threads           {:>9.0} /s  ({:.2} × cores × raw; {:.2} × raw on {cores} cores)",
        minus_clone(3),
        minus_clone(3) / ideal,
        minus_clone(3) / r(1)
    );
    println!(
        "  decode + verify_and_parse, 1 thread   {:>9.0} /s  ({:.2} × raw)",
        r(4),
        r(4) / raw1
    );
    println!(
        "  decode + verify_and_parse, {cores} threads  {:>9.0} /s  ({:.2} × cores × raw; {:.2} × raw on {cores} cores)",
        r(5),
        r(5) / ideal,
        r(5) / r(1)
    );
    println!("  load after: {}", machine::load());
}
