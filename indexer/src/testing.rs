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
use crate::store::Store;

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
        relay.run().await.expect("relay starts");
        let url = relay
            .url()
            .await
            .to_string()
            .trim_end_matches('/')
            .to_string();
        TestRelay { relay, db, url }
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

    /// Stops the relay.
    pub fn shutdown(&self) {
        self.relay.shutdown();
    }
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
