//! Deterministic simulated mints, honest and misbehaving, with real keys and real BDHKE.
//!
//! A [`Simulator`] plays a population of Cashu mints that publish on nostr round after round:
//! identities (11467), announcements (38172, by the mint itself and by an operator), chained
//! batches (4919) of issued signatures and burnt secrets in two units over rotating keysets,
//! epoch closes (1337), and reviews (38000) with one NIP-09 deletion. Each [`Misbehaviour`] gets a
//! mint of its own that commits exactly that fault of PROTOCOL.md §3 (or publishes forged or
//! malformed events), and the simulator records the truth: the [`ExpectedFinding`]s with their
//! exact evidence, the events that must be [`Reject`]ed and why, and per-mint [`MintStats`].
//!
//! Everything is a function of [`SimConfig`]: keys come from a ChaCha20 stream seeded with
//! [`SimConfig::seed`], timestamps from [`SimConfig::start_time`], and BIP-340 signatures use a
//! ChaCha20 aux stream derived from the seed and the event id, so ids *and* signatures repeat
//! exactly. Tokens are hashes of (mint seed, unit, epoch, index), so a mint remembers counters,
//! not secrets: [`Simulator::next_round`] can run forever in flat memory (see
//! [`Simulator::working_set_len`]).
//!
//! Timeline of round `r` (at `t = start_time + r·round_interval_secs`): `t+0` identities and
//! announcements, `t+1` each mint's 4919, `t+2` fork siblings and forged/malformed events, `t+3`
//! 1337 epoch closes, `t+4` reviews and deletions. A 1337 therefore counts its round's 4919 and
//! no later one.

mod bad_input;
mod config;
mod identity;
mod mint;
mod misbehaviour;
mod reviews;
mod rotation;
mod round;
mod signing;
mod simulator;
mod truth;
mod wallet;

pub use config::{SimConfig, SimConfigError};
pub use misbehaviour::{Misbehaviour, MisbehaviourKind};
pub use simulator::Simulator;
pub use truth::{
    ExpectedFinding, GroupTotals, MintRole, MintStats, Reject, RejectReason, Simulation,
};
pub use wallet::{Token, Wallet};
