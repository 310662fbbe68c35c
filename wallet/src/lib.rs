//! The wallet side of mintwatch: a wallet that reaches its mint and mintwatch's index over
//! nostr relays only, never HTTP.
//!
//! - [`connector::NostrMintConnector`]: cdk's `MintConnector` over Nostr Mint Connect
//!   (`docs/NMC.md`), so any cdk wallet uses a mint through its gateway's relays;
//! - [`index::IndexClient`]: an indexer's query service (a mint's report, `check_spent`);
//! - [`rpc::Relays`]: the request/response exchange both use (subscribe first, publish to every
//!   relay, re-publish once);
//! - [`home::WalletHome`]: the files of `mintwatch wallet` (seed words, mints by key, proofs);
//! - wallet to wallet over nostr (NMC.md §6): [`request`] (NUT-18 payment requests, paid as
//!   gift-wrapped direct messages), [`nutzap`] (NIP-61), [`inbox::Inbox`] (`listen`: redeems
//!   what arrives, once), [`sent`] (whether what was sent is redeemed, from the mint's public
//!   feed through the index, never the mint), and [`records`] (what the wallet remembers of it).

pub mod connector;
pub mod discover;
pub mod error;
pub mod home;
pub mod inbox;
pub mod index;
pub mod nutzap;
pub mod records;
pub mod request;
pub mod rpc;
pub mod sending;
pub mod sent;
pub mod transport;

pub use connector::{mint_of_url, mint_url_of, NostrMintConnector};
pub use discover::MintRef;
pub use error::{RpcError, WalletError};
pub use home::{MintSession, WalletHome};
pub use inbox::Inbox;
pub use index::IndexClient;
pub use rpc::{Patience, Relays};
