//! What a simulation plays ([`SimConfig`]) and the limits a configuration must stay within.

use crate::misbehaviour::Misbehaviour;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Seeds every key, token and signature.
    pub seed: u64,
    /// Unix seconds of round 0.
    pub start_time: u64,
    /// Seconds between rounds (at least 5: a round uses offsets 0..=4).
    pub round_interval_secs: u64,
    /// Mints that do nothing wrong (besides these, one mint per misbehaviour, two for a
    /// cross-mint collision).
    pub honest_mints: usize,
    /// Rounds played by [`Simulator::run`] (ignored by [`Simulator::next_round`]).
    pub rounds: u64,
    /// BURN entries per 4919 (fewer while a mint has not issued enough tokens yet), split over
    /// `sat` and `usd` and over the live epochs, oldest first.
    pub burns_per_batch: usize,
    /// MINT entries per 4919, split over `sat` and `usd`, in the current epoch.
    pub mints_per_batch: usize,
    /// Rounds between key rotations (each closes the old epoch with a 1337); 0 never rotates.
    pub rotate_every: u64,
    /// Epochs per unit whose tokens are still being burnt (the current one included).
    pub live_epochs: usize,
    /// Distinct review authors.
    pub reviewers: usize,
    /// Reviews published per round (a reviewer's later review of a mint replaces the earlier).
    pub reviews_per_round: usize,
    /// Misbehaviours, one mint each.
    pub misbehaviours: Vec<Misbehaviour>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            start_time: 1_700_000_000,
            round_interval_secs: 10,
            honest_mints: 6,
            rounds: 8,
            burns_per_batch: 12,
            mints_per_batch: 16,
            rotate_every: 4,
            live_epochs: 2,
            reviewers: 20,
            reviews_per_round: 8,
            misbehaviours: Misbehaviour::defaults(),
        }
    }
}

/// Encoded size of one MINT entry in a 4919's content (base64 of CBOR), rounded up.
pub(crate) const MINT_ENTRY_BYTES: usize = 210;
/// Encoded size of one BURN entry, rounded up.
pub(crate) const BURN_ENTRY_BYTES: usize = 110;
/// Budget for a 4919's JSON: well under the 512 KiB that mintwatch accepts.
pub(crate) const BATCH_BYTES_BUDGET: usize = 400 * 1024;
/// Entries per 4919 at most (mintwatch accepts 20,000; real mints publish far fewer).
pub(crate) const MAX_ENTRIES_PER_BATCH: usize = 2_000;
/// Entries a misbehaviour may add to a batch.
pub(crate) const SPECIAL_ENTRIES: usize = 8;
/// What a balance-mismatch mint adds to the true outstanding balance.
pub(crate) const BALANCE_ERROR: u64 = 1_000;

/// Why a [`SimConfig`] cannot be simulated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimConfigError {
    /// The interval leaves no room for a round's timestamp offsets.
    #[error("round_interval_secs {0} is below 5")]
    RoundIntervalTooShort(u64),
    /// `live_epochs` is 0.
    #[error("live_epochs must be at least 1")]
    NoLiveEpochs,
    /// A batch would be too large.
    #[error(
        "a batch of {entries} entries (~{bytes} bytes) exceeds {MAX_ENTRIES_PER_BATCH} entries or {BATCH_BYTES_BUDGET} bytes"
    )]
    BatchTooLarge {
        /// Entries per batch.
        entries: usize,
        /// Estimated JSON bytes.
        bytes: usize,
    },
}

impl SimConfig {
    /// Checks that the configuration can be simulated within the protocol's limits.
    pub fn validate(&self) -> Result<(), SimConfigError> {
        if self.round_interval_secs < 5 {
            return Err(SimConfigError::RoundIntervalTooShort(
                self.round_interval_secs,
            ));
        }
        if self.live_epochs == 0 {
            return Err(SimConfigError::NoLiveEpochs);
        }
        let entries = self.mints_per_batch + self.burns_per_batch + SPECIAL_ENTRIES;
        let bytes = (self.mints_per_batch + SPECIAL_ENTRIES) * MINT_ENTRY_BYTES
            + self.burns_per_batch * BURN_ENTRY_BYTES
            + 2_048;
        if entries > MAX_ENTRIES_PER_BATCH || bytes > BATCH_BYTES_BUDGET {
            return Err(SimConfigError::BatchTooLarge { entries, bytes });
        }
        Ok(())
    }
}
