//! Which stages of the indexer are not running normally, and why: what `/readyz` answers 503
//! with. A stage is named here from the moment it stops doing its job (retrying a failed store
//! write, recovering queued analysis at start, stopped on an error) until it does it again.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// A stage that can be not ready. The names are the `stage` of `/readyz` and of
/// `mintwatch_stage_ready`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// Dedup's lookups of known ids in the store.
    Dedup,
    /// Committing batches.
    Store,
    /// Analysing committed batches (and, at start, the ones a previous run left queued).
    Analyze,
    /// The ingest pipeline as a whole (it has stopped).
    Ingest,
}

impl Stage {
    /// Every stage, in a fixed order.
    pub const ALL: [Stage; 4] = [Stage::Dedup, Stage::Store, Stage::Analyze, Stage::Ingest];

    /// Its name in `/readyz` and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Dedup => "dedup",
            Stage::Store => "store",
            Stage::Analyze => "analyze",
            Stage::Ingest => "ingest",
        }
    }
}

/// The stages not running normally, shared between the pipeline and whoever answers `/readyz`.
/// Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Health {
    problems: Arc<Mutex<BTreeMap<Stage, String>>>,
}

impl Health {
    /// `stage` is not running normally, because of `why` (replaces an earlier reason).
    pub fn set(&self, stage: Stage, why: impl Into<String>) {
        let why = why.into();
        if let Ok(mut p) = self.problems.lock() {
            p.insert(stage, why);
        }
        metrics::gauge!("mintwatch_stage_ready", "stage" => stage.as_str()).set(0.0);
    }

    /// `stage` runs normally again.
    pub fn clear(&self, stage: Stage) {
        if let Ok(mut p) = self.problems.lock() {
            p.remove(&stage);
        }
        metrics::gauge!("mintwatch_stage_ready", "stage" => stage.as_str()).set(1.0);
    }

    /// The stages not running normally, with why, in stage order; empty when ready.
    pub fn problems(&self) -> Vec<(Stage, String)> {
        self.problems
            .lock()
            .map(|p| p.iter().map(|(s, w)| (*s, w.clone())).collect())
            .unwrap_or_else(|_| vec![(Stage::Ingest, "health state poisoned".into())])
    }
}
