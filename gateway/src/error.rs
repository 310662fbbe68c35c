//! The gateway's one error type.

use std::path::PathBuf;

/// What can stop the gateway (or one of its steps).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is missing or wrong.
    #[error("{0}")]
    Config(String),
    /// The key file cannot be used.
    #[error("key file {path}: {why}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The gateway's key is not the mint's.
    #[error(
        "the gateway's key is not the mint's: the key file's public key is {ours}, the mint's \
         /v1/info pubkey is {theirs} (x-only {theirs_x}); derive the key with `mintwatch gateway \
         key --from-nutshell-seed` (nutshell) or set the mint's [mint_info] pubkey (cdk-mintd)"
    )]
    IdentityMismatch {
        /// x-only public key of the key file.
        ours: String,
        /// The mint's `pubkey` as it shows it.
        theirs: String,
        /// Its x coordinate.
        theirs_x: String,
    },
    /// The mint's HTTP API failed or answered something unusable.
    #[error("mint API: {0}")]
    MintApi(String),
    /// Reading the mint's database failed.
    #[error("mint database: {0}")]
    MintDb(#[source] sqlx::Error),
    /// The gateway's own state database failed.
    #[error("state database: {0}")]
    State(#[source] sqlx::Error),
    /// The state belongs to another mint, or is inconsistent.
    #[error("state database: {0}")]
    StateContent(String),
    /// Signing or building an event failed.
    #[error("event: {0}")]
    Event(String),
    /// Input/output (listener, files).
    #[error("{0}")]
    Io(#[from] std::io::Error),
}
