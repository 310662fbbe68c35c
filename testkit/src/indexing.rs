//! The real indexer run over test relays: a configuration for tests, the events it must store,
//! and a run that waits until they are all in and the analysis is done.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use mintwatch_indexer::analyze::{AnalyzeConfig, Analyzer};
use mintwatch_indexer::crawl::{CrawlConfig, CrawlStats};
use mintwatch_indexer::ingest::{Ingest, IngestConfig, IngestStats};
use mintwatch_indexer::pipeline::Delivery;
use mintwatch_indexer::service::{IndexerConfig, RunningIndexer};
use mintwatch_protocol::EventId;
use mintwatch_sim::Simulation;

use crate::corpus::AS_OF;
use crate::database::TestDb;
use crate::relay::TestRelay;
use crate::wait::wait_for;

/// An indexer configuration for tests: quick reconnects, small pages and batches, no gap grace
/// period, and ranks computed as of `as_of` so two runs compare exactly.
pub fn indexer_config(relays: Vec<String>, as_of: u64) -> IndexerConfig {
    IndexerConfig {
        crawl: CrawlConfig {
            relays,
            page_size: 50,
            backoff_initial: Duration::from_millis(50),
            backoff_max: Duration::from_millis(300),
            ..CrawlConfig::default()
        },
        ingest: IngestConfig {
            batch_size: 64,
            linger: Duration::from_millis(20),
            ..IngestConfig::default()
        },
        analyze: AnalyzeConfig {
            gap_grace: Duration::ZERO,
            as_of: Some(as_of),
            gap_sweep_every: Duration::from_millis(100),
            ..AnalyzeConfig::default()
        },
        queue: 1024,
        queue_bytes: 0,
    }
}

/// The events an indexer of `relays` must store: every event they serve (after replacements and
/// NIP-09 deletions) that the simulator did not make to be rejected.
pub async fn acceptable(relays: &[&TestRelay], sim: &Simulation) -> BTreeSet<EventId> {
    let rejected: BTreeSet<EventId> = sim.rejects.iter().map(|r| r.id).collect();
    let mut served = BTreeSet::new();
    for r in relays {
        served.extend(r.served_ids().await);
    }
    served.retain(|id| !rejected.contains(id));
    served
}

/// The counters of an indexer run by [`index_simulation`], read before it stopped.
pub struct IndexedRun {
    /// Ingest totals.
    pub ingest: Arc<IngestStats>,
    /// Per-relay crawl counters.
    pub crawl: CrawlStats,
}

/// Runs the real indexer ([`indexer_config`] over `relays`) until every [`acceptable`] event is
/// stored, stops it, and finishes the analysis as `mintwatch` does on its timer (gap sweep and a
/// full refresh). Panics, naming the missing events, if they are not all stored in two minutes.
pub async fn index_simulation(db: &TestDb, relays: &[&TestRelay], sim: &Simulation) -> IndexedRun {
    let want = acceptable(relays, sim).await;
    let expected = want.len() as i64;
    let cfg = indexer_config(relays.iter().map(|r| r.url.clone()).collect(), AS_OF);
    let indexer = RunningIndexer::start(db.store.clone(), cfg.clone())
        .await
        .expect("indexer starts");
    let all_in = wait_for(Duration::from_secs(120), || async {
        db.count("events").await >= expected
    })
    .await;
    let run = IndexedRun {
        ingest: indexer.ingest_stats().clone(),
        crawl: indexer.crawl_stats().clone(),
    };
    indexer.stop().await.expect("ingest ends cleanly");
    if !all_in {
        let ids: Vec<EventId> = want.iter().copied().collect();
        let stored = db.store.known_ids(&ids).await.expect("ids");
        let missing: Vec<String> = sim
            .events
            .iter()
            .filter(|e| want.contains(&e.id) && !stored.contains(&e.id))
            .map(|e| e.to_json().chars().take(400).collect())
            .collect();
        panic!(
            "{} of {expected} events stored; missing: {missing:#?}",
            stored.len()
        );
    }
    Analyzer::new(db.store.clone(), cfg.analyze)
        .refresh_all()
        .await
        .expect("analysis");
    run
}

/// A simulation served by a relay of its own and indexed into a fresh database.
pub struct Indexed {
    /// The simulation (its truth: who burnt what, which findings).
    pub sim: Simulation,
    /// The relay serving its events.
    pub relay: TestRelay,
    /// The database it was indexed into.
    pub db: TestDb,
    /// The indexer's counters.
    pub run: IndexedRun,
}

/// The small simulation of `seed` ([`small_simulation`](crate::small_simulation)) on a new
/// relay, indexed into a new database ([`index_simulation`]): the setup of every suite that reads
/// what the indexer found.
pub async fn indexed_small_simulation(seed: u64) -> Indexed {
    let sim = crate::small_simulation(seed);
    let relay = TestRelay::start(None).await;
    relay.store(&sim.events).await;
    let db = TestDb::new().await;
    let run = index_simulation(&db, &[&relay], &sim).await;
    Indexed {
        sim,
        relay,
        db,
        run,
    }
}

/// Runs `ingest` over `deliveries`, in order, until it has stored and analyzed them all.
pub async fn ingest_all(ingest: Ingest, deliveries: impl IntoIterator<Item = Delivery>) {
    let (tx, rx) = tokio::sync::mpsc::channel(1024);
    let run = tokio::spawn(ingest.run(rx));
    for delivery in deliveries {
        tx.send(delivery).await.expect("ingest is running");
    }
    drop(tx);
    run.await
        .expect("ingest task")
        .expect("ingest ends cleanly");
}
