//! The library half of the `mintwatch` package: what the binary wires together that its tests
//! need too, so they import it rather than include its source.
//!
//! - [`live`]: the indexer's live counters as the API's `/v1/stats` snapshot.

pub mod live;
