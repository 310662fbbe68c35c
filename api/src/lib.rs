//! # mintwatch-api
//!
//! mintwatch's serving layer (PROTOCOL.md §5–§6):
//! - [`read`]: the reads served (directory, mint reports, findings, reviews, spent lookups,
//!   statistics), transport-free;
//! - [`http`]: the HTTP/JSON read API over them: [`http::router`], [`http::serve`],
//!   [`http::ApiState`];
//! - [`nostr`]: mintwatch on nostr: assertions, evidence labels and the encrypted query service;
//! - [`web`]: the directory website on the same listener, server-rendered HTML over [`read`].

pub mod http;
pub mod nostr;
pub mod read;
pub mod web;

pub use http::{metrics_recorder, router, serve, ApiState};
