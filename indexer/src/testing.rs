//! Real parts for tests (feature `testing`): a fresh PostgreSQL database per test, and a real
//! nostr relay (nostr-relay-builder) on 127.0.0.1 with limits raised to what tests need. Shared by
//! this crate's tests, the end-to-end tests and the API tests, so every suite runs against the
//! same real dependencies.

#![allow(clippy::expect_used)]

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use nostr_relay_builder::prelude::{
    Event, Filter, MemoryDatabase, MemoryDatabaseOptions, NostrDatabase, RateLimit,
};
use nostr_relay_builder::{LocalRelay, RelayBuilder};
use sqlx::Connection;

use mintwatch_protocol::{EventId, SignedEvent};

use crate::analyze::AnalyzeConfig;
use crate::crawl::CrawlConfig;
use crate::ingest::IngestConfig;
use crate::service::IndexerConfig;
use mintwatch_store::Store;

/// The PostgreSQL server for tests, without a database name: `MINTWATCH_TEST_PG`, or the local
/// server with trust auth.
pub fn server_url() -> String {
    std::env::var("MINTWATCH_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_string())
}

/// A database created for one test and migrated; [`TestDb::drop`] removes it.
pub struct TestDb {
    /// The database name.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// A migrated store on it.
    pub store: Store,
}

impl TestDb {
    /// Creates `mw_test_<random>` and migrates it.
    pub async fn new() -> TestDb {
        let name = format!("mw_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", server_url()))
            .await
            .expect("connect to the postgres database (is PostgreSQL running?)");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create test database");
        admin.close().await.expect("close admin connection");
        let url = format!("{}/{name}", server_url());
        let store = Store::connect(&url)
            .await
            .expect("connect to test database");
        store.migrate().await.expect("migrate");
        TestDb { name, url, store }
    }

    /// `SELECT count(*) FROM <table>`.
    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(self.store.pool())
            .await
            .expect("count")
    }

    /// Burn entries stored more than once (same event and position): 0 unless ingest duplicated.
    pub async fn duplicate_burns(&self) -> i64 {
        sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT event_id, pos FROM burns
                                    GROUP BY event_id, pos HAVING count(*) > 1) d",
        )
        .fetch_one(self.store.pool())
        .await
        .expect("duplicate burns")
    }

    /// Closes the store and drops the database.
    pub async fn drop(self) {
        self.store.close().await;
        let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", server_url()))
            .await
            .expect("connect to the postgres database");
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut admin)
        .await
        .expect("drop test database");
    }
}

/// A real relay on 127.0.0.1 (random port unless given), with the builder's open-internet
/// defaults raised: no practical rate limit, unbounded memory, large query limits.
pub struct TestRelay {
    relay: LocalRelay,
    db: Arc<MemoryDatabase>,
    accept: tokio::task::JoinHandle<()>,
    /// `ws://127.0.0.1:<port>`.
    pub url: String,
}

impl TestRelay {
    /// Starts a relay.
    pub async fn start(port: Option<u16>) -> TestRelay {
        let db = Arc::new(MemoryDatabase::with_opts(MemoryDatabaseOptions {
            events: true,
            max_events: None,
        }));
        let mut builder = RelayBuilder::default()
            .addr(Ipv4Addr::LOCALHOST.into())
            .database(db.clone())
            .rate_limit(RateLimit {
                max_reqs: 1_000,
                notes_per_minute: 10_000_000,
            })
            .max_filter_limit(100_000);
        if let Some(p) = port {
            builder = builder.port(p);
        }
        let relay = LocalRelay::new(builder);
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port.unwrap_or(0)))
            .await
            .expect("relay port");
        let url = format!("ws://{}", listener.local_addr().expect("relay address"));
        let accept = tokio::spawn(crate::local_relay::accept_nodelay(listener, relay.clone()));
        TestRelay {
            relay,
            db,
            accept,
            url,
        }
    }

    /// Puts events straight into the relay's database (found by backfill). The relay does not
    /// check them, so forged events can be served too, as a hostile relay would.
    pub async fn store(&self, events: &[SignedEvent]) {
        self.store_events(&to_nostr(events)).await;
    }

    /// Stores events and pushes them to live subscriptions.
    pub async fn publish(&self, events: &[SignedEvent]) {
        self.publish_events(&to_nostr(events)).await;
    }

    /// [`TestRelay::store`] for `nostr` events.
    pub async fn store_events(&self, events: &[Event]) {
        for e in events {
            self.db.save_event(e).await.expect("saved");
        }
    }

    /// [`TestRelay::publish`] for `nostr` events; panics if nobody is subscribed (a test that
    /// publishes live expects a live reader).
    pub async fn publish_events(&self, events: &[Event]) {
        for e in events {
            self.db.save_event(e).await.expect("saved");
            assert!(
                self.relay.notify_event(e.clone()),
                "relay has live sessions"
            );
        }
    }

    /// The ids of every event the relay serves now (after it applied replacements of
    /// replaceable and addressable events and NIP-09 deletions).
    pub async fn served_ids(&self) -> std::collections::BTreeSet<EventId> {
        self.db
            .query(Filter::new())
            .await
            .expect("query relay database")
            .into_iter()
            .map(|e| EventId(e.id.to_bytes()))
            .collect()
    }

    /// Stops the relay: no new connections, and the open ones are closed.
    pub fn shutdown(&self) {
        self.accept.abort();
        self.relay.shutdown();
    }
}

/// A nostr-sdk client connected to `url` (waits up to 10 s for the connection), as a wallet or
/// another app would be.
pub async fn connected_client(url: &str) -> nostr_sdk::Client {
    let client = nostr_sdk::Client::default();
    client.add_relay(url).await.expect("relay url");
    client.connect().await;
    client.wait_for_connection(Duration::from_secs(10)).await;
    client
}

fn to_nostr(events: &[SignedEvent]) -> Vec<Event> {
    events
        .iter()
        .map(|e| e.to_nostr().expect("event converts"))
        .collect()
}

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

/// Polls `check` every 50 ms until it returns true or `timeout` passes; returns the last answer.
pub async fn wait_for<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The time the shared test corpus is analysed at: fixed, so ranks and decay compare exactly.
pub const AS_OF: u64 = 1_790_000_000;

/// The small simulated corpus the end-to-end and API suites share: six honest mints and one of
/// each misbehaviour, six rounds, starting a day before [`AS_OF`].
pub fn small_simulation(seed: u64) -> mintwatch_protocol::simulate::Simulation {
    use mintwatch_protocol::simulate::{SimConfig, Simulator};
    Simulator::run(SimConfig {
        seed,
        start_time: AS_OF - 86_400,
        honest_mints: 6,
        rounds: 6,
        ..SimConfig::default()
    })
    .expect("valid simulation")
}

/// The events an indexer of `relays` must store: every event they serve (after replacements and
/// NIP-09 deletions) that the simulator did not make to be rejected.
pub async fn acceptable(
    relays: &[&TestRelay],
    sim: &mintwatch_protocol::simulate::Simulation,
) -> std::collections::BTreeSet<EventId> {
    let rejected: std::collections::BTreeSet<EventId> = sim.rejects.iter().map(|r| r.id).collect();
    let mut served = std::collections::BTreeSet::new();
    for r in relays {
        served.extend(r.served_ids().await);
    }
    served.retain(|id| !rejected.contains(id));
    served
}

/// The counters of an indexer run by [`index_simulation`], read before it stopped.
pub struct IndexedRun {
    /// Ingest totals.
    pub ingest: Arc<crate::ingest::IngestStats>,
    /// Per-relay crawl counters.
    pub crawl: crate::crawl::CrawlStats,
}

/// Runs the real indexer ([`indexer_config`] over `relays`) until every [`acceptable`] event is
/// stored, stops it, and finishes the analysis as `mintwatch` does on its timer (gap sweep and a
/// full refresh). Panics, naming the missing events, if they are not all stored in two minutes.
pub async fn index_simulation(
    db: &TestDb,
    relays: &[&TestRelay],
    sim: &mintwatch_protocol::simulate::Simulation,
) -> IndexedRun {
    let want = acceptable(relays, sim).await;
    let expected = want.len() as i64;
    let cfg = indexer_config(relays.iter().map(|r| r.url.clone()).collect(), AS_OF);
    let indexer = crate::service::RunningIndexer::start(db.store.clone(), cfg.clone())
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
    crate::analyze::Analyzer::new(db.store.clone(), cfg.analyze)
        .refresh_all()
        .await
        .expect("analysis");
    run
}

/// Runs `ingest` over `deliveries`, in order, until it has stored and analyzed them all.
pub async fn ingest_all(
    ingest: crate::ingest::Ingest,
    deliveries: impl IntoIterator<Item = crate::pipeline::Delivery>,
) {
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
