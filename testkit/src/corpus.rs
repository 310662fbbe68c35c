//! The corpora tests and benches share: the small simulation of the end-to-end and API suites,
//! the 4919-heavy simulation of the benches, and small signed announcements and reviews.

use mintwatch_protocol::broadcast::{CashuData, GroupContents};
use mintwatch_protocol::{kinds, SignedEvent};
use mintwatch_sim::{Misbehaviour, SimConfig, Simulation, Simulator};
use nostr::{EventBuilder, Keys, Kind, Tag, Timestamp};
use rayon::prelude::*;

/// The time the shared test corpus is analysed at: fixed, so ranks and decay compare exactly.
pub const AS_OF: u64 = 1_790_000_000;

/// The small simulated corpus the end-to-end and API suites share: six honest mints and one of
/// each misbehaviour, six rounds, starting a day before [`AS_OF`].
pub fn small_simulation(seed: u64) -> Simulation {
    Simulator::run(SimConfig {
        seed,
        start_time: AS_OF - 86_400,
        honest_mints: 6,
        rounds: 6,
        ..SimConfig::default()
    })
    .expect("valid simulation")
}

/// `n` small events: one self-signed 38172 announcement per mint, then 38000 reviews of those
/// mints, each (reviewer, mint) pair once, so a relay keeps every one (both kinds are
/// addressable: a later event with the same author, kind and `d` would replace an earlier one).
/// About 600-800 bytes of JSON each, like real announcements and reviews.
pub fn small_events(n: usize, mints: usize) -> Vec<SignedEvent> {
    let mint_keys: Vec<Keys> = (0..mints).map(|_| Keys::generate()).collect();
    let reviewers: Vec<Keys> = (0..n.saturating_sub(mints).div_ceil(mints).max(1))
        .map(|_| Keys::generate())
        .collect();
    (0..n)
        .into_par_iter()
        .map(|i| {
            let t = Timestamp::from(1_700_000_000 + i as u64);
            let event = if i < mints {
                let keys = &mint_keys[i];
                let hex = keys.public_key().to_hex();
                let tags = [
                    Tag::parse(["d", &hex]).expect("tag"),
                    Tag::parse(["u", &format!("https://mint{i}.example.com")]).expect("tag"),
                    Tag::parse(["nuts", "1,2,3,4,5,7,8,9,10,11,12"]).expect("tag"),
                    Tag::parse(["n", "mainnet"]).expect("tag"),
                ];
                let content = format!(
                    "{{\"name\":\"Mint {i}\",\"about\":\"Mint {i}, a benchmark Cashu mint that \
                     issues ecash for sats and dollars over lightning.\"}}"
                );
                EventBuilder::new(Kind::Custom(38172), content)
                    .tags(tags)
                    .custom_created_at(t)
                    .sign_with_keys(keys)
                    .expect("sign")
            } else {
                let r = i - mints;
                let (reviewer, mint) = (&reviewers[r / mints], r % mints);
                let mint_hex = mint_keys[mint].public_key().to_hex();
                let tags = [
                    Tag::parse(["d", &mint_hex]).expect("tag"),
                    Tag::parse(["k", "38172"]).expect("tag"),
                    Tag::parse(["u", &format!("https://mint{mint}.example.com"), "cashu"])
                        .expect("tag"),
                    Tag::parse(["a", &format!("38172:{mint_hex}:{mint_hex}"), "", "cashu"])
                        .expect("tag"),
                    Tag::parse(["rating", &((r % 5) + 1).to_string()]).expect("tag"),
                ];
                let content = format!(
                    "Review {r}: paid a lightning invoice, tokens arrived, melted fine. \
                     Would use mint {mint} again."
                );
                EventBuilder::new(Kind::Custom(38000), content)
                    .tags(tags)
                    .custom_created_at(t)
                    .sign_with_keys(reviewer)
                    .expect("sign")
            };
            SignedEvent::from(&event)
        })
        .collect()
}

/// The simulated corpus of 4919-heavy benches (seed 42): `mints` honest mints publishing 990
/// burns and 1,000 issued signatures per 4919, key rotation every 4 rounds, 300 reviewers × 300
/// reviews a round, rounds 10 minutes apart from 30 days before `as_of`; played round by round
/// (`rounds: 0`) until the bench has enough burns.
pub fn burns_sim_config(as_of: u64, mints: usize, misbehaviours: Vec<Misbehaviour>) -> SimConfig {
    SimConfig {
        seed: 42,
        start_time: as_of - 30 * 86_400,
        round_interval_secs: 600,
        honest_mints: mints,
        rounds: 0,
        burns_per_batch: 990,
        mints_per_batch: 1_000,
        rotate_every: 4,
        live_epochs: 2,
        reviewers: 300,
        reviews_per_round: 300,
        misbehaviours,
    }
}

/// BURN entries in `e` (0 unless it is a 4919 that parses).
pub fn burns_in(e: &SignedEvent) -> u64 {
    if e.kind != kinds::CASHU_DATA {
        return 0;
    }
    CashuData::parse(e)
        .map(|d| {
            d.groups
                .iter()
                .map(|g| match &g.contents {
                    GroupContents::Burn(b) => b.len() as u64,
                    GroupContents::Mint(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}
