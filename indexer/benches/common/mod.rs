//! What the benches share (the API's `http_load` includes this file too): a corpus of small signed events (kinds 38172 and 38000), the
//! machine's state, and peak-memory readings.

#![allow(dead_code, clippy::expect_used)]

use std::time::Duration;

use mintwatch_protocol::SignedEvent;
use nostr::{EventBuilder, Keys, Kind, Tag, Timestamp};
use rayon::prelude::*;

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
pub fn burns_sim_config(
    as_of: u64,
    mints: usize,
    misbehaviours: Vec<mintwatch_protocol::simulate::Misbehaviour>,
) -> mintwatch_protocol::simulate::SimConfig {
    mintwatch_protocol::simulate::SimConfig {
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
    use mintwatch_protocol::broadcast::{CashuData, GroupContents};
    if e.kind != mintwatch_protocol::kinds::CASHU_DATA {
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

/// `nproc`, CPU model, memory and load, printed with every run.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_string())
        })
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0))
        .unwrap_or_else(|| "?".into());
    format!("{cores} cores ({cpu}), {mem} RAM, load {}", load())
}

/// The 1/5/15-minute load averages.
pub fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// A field of /proc/<pid>/status in KiB (`VmHWM`: peak resident set, `VmRSS`: now).
pub fn status_kib(pid: &str, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// KiB as MiB.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Events per second.
pub fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// What raw BIP-340 verification of `events` takes, parsed beforehand so that only
/// `verify_schnorr` is timed: (signature, message = id, x-only key).
pub fn raw_verify_inputs(
    events: &[SignedEvent],
) -> Vec<(
    secp256k1::schnorr::Signature,
    secp256k1::Message,
    secp256k1::XOnlyPublicKey,
)> {
    events
        .iter()
        .map(|e| {
            (
                secp256k1::schnorr::Signature::from_slice(&e.sig).expect("sig"),
                secp256k1::Message::from_digest(e.id.0),
                secp256k1::XOnlyPublicKey::from_slice(&e.pubkey).expect("key"),
            )
        })
        .collect()
}

/// A metrics recorder that keeps, per histogram name, the sum and count of what was recorded
/// (the pipeline records the seconds each batch spent in the store and in analyze), so a bench
/// can say where the time went. Counters and gauges are dropped.
#[derive(Default, Clone)]
pub struct Sums(std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, (f64, u64)>>>);

struct SumOne {
    name: String,
    sums: Sums,
}

impl metrics::HistogramFn for SumOne {
    fn record(&self, value: f64) {
        let mut m = self.sums.0.lock().expect("sums lock");
        let e = m.entry(self.name.clone()).or_default();
        e.0 += value;
        e.1 += 1;
    }
}

impl metrics::Recorder for Sums {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn register_counter(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        metrics::Counter::noop()
    }
    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }
    fn register_histogram(
        &self,
        key: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        let labels: Vec<&str> = key.labels().map(|l| l.value()).collect();
        let name = if labels.is_empty() {
            key.name().to_string()
        } else {
            format!("{}{{{}}}", key.name(), labels.join(","))
        };
        metrics::Histogram::from_arc(std::sync::Arc::new(SumOne {
            name,
            sums: self.clone(),
        }))
    }
}

impl Sums {
    /// Installs a fresh recorder as the global one and returns a handle on its sums.
    pub fn install() -> Sums {
        let sums = Sums::default();
        metrics::set_global_recorder(sums.clone()).expect("first recorder");
        sums
    }

    /// Forgets everything recorded so far.
    pub fn reset(&self) {
        self.0.lock().expect("sums lock").clear();
    }

    /// `label s, ...` for every labelled series of histogram `name` (e.g. the seconds of each
    /// phase of the store), in label order.
    pub fn breakdown(&self, name: &str) -> String {
        let prefix = format!("{name}{{");
        self.0
            .lock()
            .expect("sums lock")
            .iter()
            .filter_map(|(k, (sum, _))| {
                k.strip_prefix(&prefix)
                    .map(|label| format!("{} {sum:.2} s", label.trim_end_matches('}')))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Prints where the pipeline's time went: the verification pool, each store phase, each
    /// analyze phase (sums over batches).
    pub fn print_stages(&self) {
        let (verify_s, _) = self.get("mintwatch_verify_batch_seconds");
        println!(
            "    verify (decode, dedup, verify, parse) {verify_s:.2} s of batches, on the pool"
        );
        println!(
            "    store phases: {}",
            self.breakdown("mintwatch_store_phase_seconds")
        );
        println!(
            "    analyze phases: {}",
            self.breakdown("mintwatch_analyze_phase_seconds")
        );
    }

    /// (sum, count) for a histogram.
    pub fn get(&self, name: &str) -> (f64, u64) {
        self.0
            .lock()
            .expect("sums lock")
            .get(name)
            .copied()
            .unwrap_or_default()
    }
}

/// Runs this bench binary again as a child in `role` (`MW_BENCH_ROLE`), with `envs` added,
/// stdin and stdout piped (the child stops when its stdin closes), and waits for its first line,
/// which must be `READY <fields...>`: returns the child and those fields.
pub fn spawn_role(role: &str, envs: &[(&str, String)]) -> (std::process::Child, Vec<String>) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let exe = std::env::current_exe().expect("current exe");
    let mut child = Command::new(exe)
        .env("MW_BENCH_ROLE", role)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{role} child starts: {e}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("child stdout"))
        .read_line(&mut line)
        .expect("READY line");
    let mut words = line.split_whitespace().map(str::to_string);
    assert_eq!(
        words.next().as_deref(),
        Some("READY"),
        "{role} child said {line:?}"
    );
    (child, words.collect())
}

/// The benches' tokio runtime: 2 workers, like the machine's 2 cores, timers and I/O enabled.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}
