//! # mintwatch-testkit
//!
//! Real parts for mintwatch's tests, benches and demo, written once for the whole workspace: a
//! fresh migrated PostgreSQL database per test, a real in-process nostr relay, the real indexer
//! run over a simulation until everything is stored, a polling [`wait_for`] in place of sleeps,
//! the shared corpora, and the benches' plumbing (runtime, child roles, machine facts, a recorder
//! that sums each stage's seconds). `mintwatch run` never uses it; the demo does.
//!
//! - [`database`]: [`TestDb`], [`server_url`], creating and dropping named databases.
//! - [`cdk_mint`]: a real cdk mint in process ([`cdk_mint::CdkMint`]) with a fake Lightning
//!   backend, its books in PostgreSQL.
//! - [`relay`]: [`TestRelay`] (served with `TCP_NODELAY`) and [`connected_client`].
//! - [`indexing`]: [`indexer_config`] for tests and [`index_simulation`].
//! - [`wait`]: [`wait_for`] and [`poll_until`].
//! - [`corpus`]: [`small_simulation`] at [`AS_OF`], the benches' corpora.
//! - [`bench`], [`machine`], [`stage_sums`]: what the benches share.

#![allow(clippy::expect_used)]

pub mod bench;
pub mod cdk_mint;
pub mod corpus;
pub mod database;
pub mod indexing;
pub mod machine;
mod nodelay;
pub mod own_postgres;
pub mod relay;
pub mod stage_sums;
pub mod wait;

pub use corpus::{small_simulation, AS_OF};
pub use database::{ensure_database, server_url, TestDb};
pub use indexing::{
    acceptable, index_simulation, indexed_small_simulation, indexer_config, ingest_all, Indexed,
    IndexedRun,
};
pub use own_postgres::OwnPostgres;
pub use relay::{connected_client, TestRelay};
pub use wait::{poll_until, wait_for};
