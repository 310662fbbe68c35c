//! The Nostr Broadcast draft (cashubtc/nuts PR #155): a mint's identity (11467), its batches of
//! burnt `Y`s and issued signatures (4919) and its closed-epoch balances (1337). Each kind has a
//! parser (tolerant of the shapes seen in the wild, strict on values) and an encoder (used by the
//! simulator), and `decode(encode(x)) == x`.
//!
//! - `mint_info`: kind 11467, the mint's NUT-06 `GetInfoResponse`;
//! - `cashu_data`: kind 4919, groups of `BURN` and `MINT` entries;
//! - `fin_epoch`: kind 1337, a closed epoch's outstanding balance;
//! - `content`: the steps the three share (size cap, base64, CBOR, the `e` tag).

mod cashu_data;
mod content;
mod fin_epoch;
mod mint_info;

pub use cashu_data::{BurnEntry, CashuData, DataEvent, DataGroup, GroupContents, MintEntry};
pub use fin_epoch::FinEpoch;
pub use mint_info::MintInfo;
