//! The indexer's own nostr key: generated on first start, persisted in a file only its owner can
//! read, and refused if anyone else could have read (or replaced) it since.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The permission bits a key file must have none of: group and others.
const FORBIDDEN_MODE: u32 = 0o077;

/// Why the key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Reading, creating or writing the file failed.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The file is readable or writable by group or others.
    #[error(
        "key file {path} has mode {mode:03o}; it must not be accessible to group or others \
         (chmod 600 it, and consider the key compromised if others could read it)"
    )]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file does not hold a secret key.
    #[error("key file {path} does not hold a secret key (64 hex characters or nsec): {why}")]
    Content {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        why: String,
    },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> KeyFileError + '_ {
    move |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Loads the indexer's keys from `path`, or generates them and writes the file with mode 0600
/// if it does not exist.
///
/// The file holds the secret key as 64 hex characters and a newline (an `nsec` is accepted
/// too). An existing file with any group or other permission bit, or content that is not a
/// secret key, is refused rather than repaired: the operator must decide whether the key leaked.
pub fn load_or_create_key(path: &Path) -> Result<nostr::Keys, KeyFileError> {
    match fs::metadata(path) {
        Ok(meta) => {
            let mode = meta.permissions().mode() & 0o777;
            if mode & FORBIDDEN_MODE != 0 {
                return Err(KeyFileError::Permissions {
                    path: path.to_path_buf(),
                    mode,
                });
            }
            let text = fs::read_to_string(path).map_err(io_error(path))?;
            nostr::Keys::parse(text.trim()).map_err(|e| KeyFileError::Content {
                path: path.to_path_buf(),
                why: e.to_string(),
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => create(path),
        Err(e) => Err(io_error(path)(e)),
    }
}

fn create(path: &Path) -> Result<nostr::Keys, KeyFileError> {
    let keys = nostr::Keys::generate();
    // create_new: if another process created the file in the meantime, fail instead of
    // overwriting a key that may already sign events.
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_error(path))?;
    let mut text = keys.secret_key().to_secret_hex();
    text.push('\n');
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_error(path))?;
    Ok(keys)
}
