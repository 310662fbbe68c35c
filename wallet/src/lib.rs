//! The wallet side of mintwatch: a wallet that reaches its mint and mintwatch's index over
//! nostr relays only, never HTTP.
//!
//! - [`connector::NostrMintConnector`]: cdk's `MintConnector` over Nostr Mint Connect
//!   (`docs/NMC.md`), so any cdk wallet uses a mint through its gateway's relays;
//! - [`index::IndexClient`]: an indexer's query service (a mint's report, `check_spent`);
//! - [`rpc::Relays`]: the request/response exchange both use (subscribe first, publish to every
//!   relay, re-publish once);
//! - [`home::WalletHome`]: the files of `mintwatch wallet` (seed words, mints by key, proofs).

pub mod connector;
pub mod discover;
pub mod error;
pub mod home;
pub mod index;
pub mod rpc;
pub mod transport;

pub use connector::{mint_of_url, mint_url_of, NostrMintConnector};
pub use discover::MintRef;
pub use error::{RpcError, WalletError};
pub use home::{MintSession, WalletHome};
pub use index::IndexClient;
pub use rpc::{Patience, Relays};
