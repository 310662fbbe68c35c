//! Faults injected from the environment, for the fault tests (`tests/faults.rs`): they crash the
//! real binary at the points where a crash could lose work, and make analysis fail, so the tests
//! prove what the indexer does then. Unset (production), every hook is one relaxed load.
//!
//! `MINTWATCH_FAULT` holds one of:
//! - `abort-after-commit=N`: abort the process right after the N-th batch of this run is
//!   committed, before it is handed to analysis;
//! - `abort-after-analysis=N`: abort right after the findings of the N-th queued batch analysed
//!   in this run are committed, before the ranks of its mints are recomputed;
//! - `analyze-error=N`: the first N analyses of a batch fail (as a store error would);
//!   `analyze-error=forever`: every one fails.
//!
//! Aborting is `std::process::abort`: no destructor, flush or shutdown runs, as with `kill -9`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use mintwatch_store::StoreError;

/// The environment variable the hooks read.
pub const FAULT_ENV: &str = "MINTWATCH_FAULT";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    AbortAfterCommit(u64),
    AbortAfterAnalysis(u64),
    AnalyzeError(Option<u64>),
}

fn parse(value: &str) -> Option<Fault> {
    let (name, n) = value.trim().split_once('=')?;
    let count = || n.parse::<u64>().ok().filter(|n| *n > 0);
    match name {
        "abort-after-commit" => count().map(Fault::AbortAfterCommit),
        "abort-after-analysis" => count().map(Fault::AbortAfterAnalysis),
        "analyze-error" if n == "forever" => Some(Fault::AnalyzeError(None)),
        "analyze-error" => count().map(|n| Fault::AnalyzeError(Some(n))),
        _ => None,
    }
}

fn fault() -> Fault {
    static FAULT: OnceLock<Fault> = OnceLock::new();
    *FAULT.get_or_init(|| match std::env::var(FAULT_ENV) {
        Err(_) => Fault::None,
        Ok(value) => match parse(&value) {
            Some(f) => {
                tracing::warn!(fault = %value, "{FAULT_ENV} is set: a fault will be injected");
                f
            }
            None => {
                tracing::error!(value = %value, "{FAULT_ENV} not understood; no fault injected");
                Fault::None
            }
        },
    })
}

static COMMITS: AtomicU64 = AtomicU64::new(0);
static ANALYSED: AtomicU64 = AtomicU64::new(0);
static ANALYSES: AtomicU64 = AtomicU64::new(0);

/// A batch was committed (and not yet handed to analysis).
pub(crate) fn batch_committed() {
    if let Fault::AbortAfterCommit(n) = fault() {
        if COMMITS.fetch_add(1, Ordering::SeqCst) + 1 == n {
            eprintln!("{FAULT_ENV}: aborting after commit {n}");
            std::process::abort();
        }
    }
}

/// The findings of queued batch `seq` were committed (its ranks are not recomputed yet).
pub(crate) fn batch_analysed(seq: i64) {
    if let Fault::AbortAfterAnalysis(n) = fault() {
        if ANALYSED.fetch_add(1, Ordering::SeqCst) + 1 == n {
            eprintln!("{FAULT_ENV}: aborting after the analysis of queued batch {seq}");
            std::process::abort();
        }
    }
}

/// An analysis of a batch starts: fails while the injected error lasts.
pub(crate) fn analysis_starts() -> Result<(), StoreError> {
    if let Fault::AnalyzeError(times) = fault() {
        let n = ANALYSES.fetch_add(1, Ordering::SeqCst) + 1;
        if times.is_none_or(|times| n <= times) {
            return Err(StoreError::Injected(format!(
                "analysis {n} fails ({FAULT_ENV})"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fault_settings_parse_and_nonsense_does_not() {
        assert_eq!(
            parse("abort-after-commit=3"),
            Some(Fault::AbortAfterCommit(3))
        );
        assert_eq!(
            parse("abort-after-analysis=2"),
            Some(Fault::AbortAfterAnalysis(2))
        );
        assert_eq!(parse("analyze-error=1"), Some(Fault::AnalyzeError(Some(1))));
        assert_eq!(
            parse("analyze-error=forever"),
            Some(Fault::AnalyzeError(None))
        );
        for bad in [
            "",
            "abort-after-commit",
            "abort-after-commit=0",
            "x=1",
            "analyze-error=-1",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
