//! # mintwatch-store
//!
//! The only place mintwatch speaks SQL: PostgreSQL through sqlx; one transaction per batch, bulk
//! writes, idempotent.
//!
//! The schema is in `migrations/` at the top of the repository (embedded at build time, see
//! [`MIGRATOR`]). Writes go through [`Store::write_batch`], which commits a whole
//! [`StoreBatch`](batch::StoreBatch) —
//! events, their typed rows, sightings, cursors and refusal counters — in one transaction, with
//! array-bound (`UNNEST`) statements, and burns with a binary `COPY`, so the number of round
//! trips does not grow with the number of rows.
//!
//! Measured (`store_throughput` in `store/tests/conformance/main.rs`, release build, 2 busy cores,
//! local Postgres 15): 200,000 burns in 10 events of 20,000, written as two batches, at
//! 93,000–115,000 burns/s (varying with the machine's load), the verbatim event JSON included. Reads are what the analyze stage, the API and the tests need.

pub mod analysis;
pub mod analysis_queue;
pub mod batch;
mod findings;
mod lookups;
pub mod read;
mod records;
pub mod stats;
mod text;
mod write;

use std::collections::HashSet;

use mintwatch_protocol::EventId;
use sqlx::postgres::{PgPool, PgPoolOptions};

pub use records::{BatchOutcome, NewFinding};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused a statement or the connection failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying the migrations failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value does not parse back into its protocol type (the database was edited by
    /// hand, or a migration is missing).
    #[error("corrupt stored value in {field}: {why}")]
    Corrupt {
        /// Table and column.
        field: &'static str,
        /// What is wrong.
        why: String,
    },
    /// A failure injected on purpose (the indexer's `MINTWATCH_FAULT`, for its fault tests).
    #[error("injected fault: {0}")]
    Injected(String),
}

impl StoreError {
    pub(crate) fn corrupt(field: &'static str, why: impl ToString) -> Self {
        Self::Corrupt {
            field,
            why: why.to_string(),
        }
    }
}

/// The migrations in `migrations/`, embedded so a deployed binary needs no files beside it.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Takes the transaction-scoped advisory lock that every transaction writing `mints` rows takes
/// first: the store's batch transaction (which upserts mints in several statements) and the
/// analyze stage's rank update run concurrently, and without one order of locking the two would
/// deadlock on the rows they share.
pub(crate) async fn lock_mints(conn: &mut sqlx::PgConnection) -> Result<(), StoreError> {
    /// "mintwatc", as a number: any constant no other code uses.
    const MINTS_LOCK: i64 = 0x6d69_6e74_7761_7463;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MINTS_LOCK)
        .execute(conn)
        .await?;
    Ok(())
}

/// A handle on the database: a connection pool, cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
    durable_commits: bool,
}

impl Store {
    /// Connects to `url` (e.g. `postgres://postgres@127.0.0.1:5432/mintwatch`) with a small pool:
    /// one writer plus the analyze stage's and API's readers.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        // A connection is waited for 5 s at most (sqlx's default is 30 s): while the database is
        // down, requests and /readyz answer 503 quickly, and ingest's retries pace themselves.
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect(url)
            .await?;
        Ok(Self::from_pool(pool))
    }

    /// Wraps an existing pool.
    pub fn from_pool(pool: PgPool) -> Store {
        Store {
            pool,
            durable_commits: false,
        }
    }

    /// Whether each batch waits for its WAL flush before [`Store::write_batch`] returns.
    ///
    /// Off by default: batch transactions run with `SET LOCAL synchronous_commit = off`, which
    /// lets Postgres acknowledge the commit before the WAL reaches disk (many times the
    /// throughput on small batches). The trade-off: a crash of the *database server* may lose
    /// the last few committed batches, but never part of one (the WAL is still written in
    /// order and replayed atomically), and because each batch's cursors are in the same
    /// transaction as its events, a lost batch is simply fetched again from the relays. Nothing
    /// inconsistent can survive; only recent work is redone. Turn this on when the store is the
    /// only copy of what it writes.
    pub fn durable_commits(mut self, durable: bool) -> Store {
        self.durable_commits = durable;
        self
    }

    /// The pool, for the read API and ad-hoc queries.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies every migration not yet applied (idempotent; safe at every start).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Which of `ids` are already stored: dedup asks this before spending crypto on events.
    pub async fn known_ids(&self, ids: &[EventId]) -> Result<HashSet<EventId>, StoreError> {
        if ids.is_empty() {
            return Ok(HashSet::new());
        }
        let bytes: Vec<Vec<u8>> = ids.iter().map(|id| id.0.to_vec()).collect();
        let rows: Vec<(Vec<u8>,)> = sqlx::query_as("SELECT id FROM events WHERE id = ANY($1)")
            .bind(bytes)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|(id,)| records::event_id(&id, "events.id"))
            .collect()
    }
}
