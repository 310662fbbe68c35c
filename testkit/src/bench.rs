//! Bench plumbing: the benches' runtime, a child process playing a role (a relay, a server) so
//! that it does not share this process's cores' scheduler, rates, and the inputs of the raw
//! BIP-340 baseline.

use std::time::Duration;

use mintwatch_protocol::SignedEvent;

/// Rounds to run: `MINTWATCH_BENCH_ROUNDS`, else `default`.
pub fn rounds(default: usize) -> usize {
    std::env::var("MINTWATCH_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `p` quantile (0 to 1, nearest rank) of `sorted`, ascending and not empty.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
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
