//! # mintwatch-indexer
//!
//! The path relay → crawl → dedup → verify → store → analyze. Each stage is a module with one job;
//! stages talk only through the typed hand-offs in [`pipeline`], over bounded channels, so a slow
//! stage pushes back on the ones before it instead of growing memory. The store stage is the
//! `mintwatch-store` crate, which owns every SQL statement; the indexer only calls it.

pub mod analyze;
pub mod crawl;
pub mod fault;
pub mod health;
pub mod ingest;
pub mod pipeline;
pub mod service;
pub mod verify;
