//! The bench's store: the database `mintwatch_bench_http`, reused when it holds the corpus, else
//! filled through the real path (signed events into the indexer's `Ingest` from memory).

use std::sync::Arc;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::mpsc;

use mintwatch_indexer::analyze::{AnalyzeConfig, Analyzer};
use mintwatch_indexer::ingest::{Ingest, IngestConfig};
use mintwatch_indexer::pipeline::{Delivery, RelayUrl};
use mintwatch_indexer::verify::KnownMintKeys;
use mintwatch_protocol::SignedEvent;
use mintwatch_sim::{Misbehaviour, SimConfig, Simulator};
use mintwatch_store::Store;
use mintwatch_testkit::database::{drop_database, ensure_database, server_url};
use mintwatch_testkit::{corpus, AS_OF};

use crate::directory::directory_events;

/// Burns and mints the store must hold (the corpus).
const MIN_BURNS: i64 = 1_000_000;
const MIN_MINTS: i64 = 10_000;
/// Mints of the simulator (with 4919s); the rest of the directory are announcement-only mints.
const SIM_MINTS: usize = 100;

/// The simulator's part of the corpus (as the indexer's end-to-end bench plays it, plus one of
/// each misbehaviour so findings exist).
fn sim_config() -> SimConfig {
    corpus::burns_sim_config(AS_OF, SIM_MINTS, Misbehaviour::defaults())
}

async fn counts(store: &Store) -> (i64, i64) {
    let burns: i64 = sqlx::query_scalar("SELECT count(*) FROM burns")
        .fetch_one(store.pool())
        .await
        .expect("count burns");
    let mints: i64 = sqlx::query_scalar("SELECT count(*) FROM mints")
        .fetch_one(store.pool())
        .await
        .expect("count mints");
    (burns, mints)
}

/// The bench database, reused if it holds the corpus, else (re)built.
pub(crate) async fn bench_store(name: &str) -> Store {
    let url = format!("{}/{name}", server_url());
    let rebuild = std::env::var("MW_BENCH_REBUILD").is_ok_and(|v| v == "1");
    let existed = !ensure_database(&url)
        .await
        .expect("create the bench database (is PostgreSQL running?)");
    if existed && !rebuild {
        let store = Store::connect(&url).await.expect("connect bench database");
        store.migrate().await.expect("migrate");
        let (burns, mints) = counts(&store).await;
        if burns >= MIN_BURNS && mints >= MIN_MINTS {
            println!("corpus: reusing database {name} ({burns} burns, {mints} mints; MW_BENCH_REBUILD=1 to refill)");
            return store;
        }
        println!("corpus: database {name} holds {burns} burns, {mints} mints: rebuilding");
        store.close().await;
    }
    if existed {
        drop_database(&url).await.expect("drop");
        ensure_database(&url).await.expect("create");
    }
    let store = Store::connect(&url).await.expect("connect bench database");
    store.migrate().await.expect("migrate");
    fill(&store).await;
    let (burns, mints) = counts(&store).await;
    assert!(
        burns >= MIN_BURNS && mints >= MIN_MINTS,
        "filled {burns} burns, {mints} mints"
    );
    println!(
        "corpus: filled database {name}: {burns} burns, {mints} mints (kept for the next run)"
    );
    store
}

/// Every event through `Ingest` from memory, as the crawler would hand them over.
async fn fill(store: &Store) {
    let start = Instant::now();
    let analyzer = Analyzer::new(
        store.clone(),
        AnalyzeConfig {
            as_of: Some(AS_OF),
            ..AnalyzeConfig::default()
        },
    );
    let ingest = Ingest::new(
        store.clone(),
        analyzer,
        IngestConfig::default(),
        KnownMintKeys::default(),
    );
    let (tx, rx) = mpsc::channel(1024);
    let run = tokio::spawn(ingest.run(rx));
    let relay: RelayUrl = Arc::from("ws://bench.invalid");
    let send = |events: Vec<SignedEvent>| {
        let (tx, relay) = (tx.clone(), relay.clone());
        async move {
            for e in events {
                tx.send(Delivery::Event {
                    relay: relay.clone(),
                    json: e.to_json().into_boxed_str(),
                })
                .await
                .expect("ingest is running");
            }
        }
    };
    let mut rng = StdRng::seed_from_u64(7);
    let directory = directory_events(&mut rng);
    let n_dir = directory.len();
    send(directory).await;
    let mut sim = Simulator::new(sim_config()).expect("valid simulation");
    let (mut burns, mut events) = (0u64, n_dir);
    while burns < MIN_BURNS as u64 {
        let round = tokio::task::block_in_place(|| sim.next_round());
        burns += round.iter().map(corpus::burns_in).sum::<u64>();
        events += round.len();
        send(round).await;
        println!(
            "  fill: round {}, {burns} burns published, {:.0} s",
            sim.round(),
            start.elapsed().as_secs_f64()
        );
    }
    drop(tx);
    run.await.expect("ingest task").expect("ingest ends");
    let mut analyzer = Analyzer::new(
        store.clone(),
        AnalyzeConfig {
            as_of: Some(AS_OF),
            ..AnalyzeConfig::default()
        },
    );
    analyzer.refresh_all().await.expect("analysis");
    sqlx::query("VACUUM ANALYZE")
        .execute(store.pool())
        .await
        .expect("vacuum");
    println!(
        "  fill: {events} events ({burns} burns) ingested and analysed in {:.0} s",
        start.elapsed().as_secs_f64()
    );
}
