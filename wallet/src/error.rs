//! The wallet side's errors: one for relay exchanges, one for the wallet a person drives.

use std::time::Duration;

/// Why a request got no usable answer from the relays.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// No relay was given, or the mint's 17338 lists none.
    #[error("no relay to use")]
    NoRelays,
    /// A relay refused, or could not be reached.
    #[error("relay: {0}")]
    Relay(String),
    /// Nothing answered, after one re-publication.
    #[error("no answer within {0:?} (published twice)")]
    NoAnswer(Duration),
    /// An answer came that does not open (bad signature, encryption or JSON).
    #[error("unreadable answer: {0}")]
    BadAnswer(String),
}

/// What a `mintwatch wallet` command can fail with, for a person to read.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// A relay exchange failed.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// The mint (or cdk's wallet logic) refused.
    #[error("{0}")]
    Cashu(#[from] cdk::Error),
    /// The wallet's files.
    #[error("wallet file {path}: {why}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        why: String,
    },
    /// An invoice to mint with was not paid in time.
    #[error("the invoice was not paid within {0:?}")]
    NotPaid(Duration),
    /// Input a person gave that does not parse.
    #[error("{0}")]
    Input(String),
    /// The mint's 17338 could not be found or read.
    #[error("mint {mint}: {why}")]
    Mint {
        /// The mint's key.
        mint: String,
        /// What is missing.
        why: String,
    },
}
