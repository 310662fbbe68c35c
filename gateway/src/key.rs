//! The mint's nostr key: read from a file only its owner can read, or derived from a nutshell
//! seed as nutshell derives its NUT-06 `pubkey` (the secp256k1 secret `sha256(MINT_PRIVATE_KEY)`).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use nostr::{Keys, SecretKey};
use sha2::{Digest, Sha256};

use crate::error::Error;

/// Permission bits a key file must have none of: group and others.
const FORBIDDEN_MODE: u32 = 0o077;

fn key_error(path: &Path, why: impl ToString) -> Error {
    Error::KeyFile {
        path: path.to_path_buf(),
        why: why.to_string(),
    }
}

/// Reads the secret key in `path` (64 hex characters or an `nsec`), refusing a file that group
/// or others may access: that key signs everything the mint says on nostr.
pub fn load(path: &Path) -> Result<Keys, Error> {
    let meta = fs::metadata(path).map_err(|e| key_error(path, e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & FORBIDDEN_MODE != 0 {
        return Err(key_error(
            path,
            format!("mode {mode:03o}: it must not be accessible to group or others (chmod 600)"),
        ));
    }
    let text = fs::read_to_string(path).map_err(|e| key_error(path, e))?;
    Keys::parse(text.trim()).map_err(|e| {
        key_error(
            path,
            format!("not a secret key (64 hex characters or nsec): {e}"),
        )
    })
}

/// The key nutshell derives from its `MINT_PRIVATE_KEY` seed: its public key is the mint's
/// `/v1/info` `pubkey`.
pub fn from_nutshell_seed(seed: &str) -> Result<Keys, Error> {
    let digest = Sha256::digest(seed.as_bytes());
    let secret = SecretKey::from_slice(&digest)
        .map_err(|e| Error::Config(format!("the seed gives no valid secret key: {e}")))?;
    Ok(Keys::new(secret))
}

/// A new random key (for cdk-mintd, whose `[mint_info] pubkey` the operator sets).
pub fn generate() -> Keys {
    Keys::generate()
}

/// The key's public key as a mint shows it in `/v1/info` `pubkey`: 33 bytes compressed, hex
/// (02 or 03, then the x-only nostr key).
pub fn compressed_public_key(keys: &Keys) -> String {
    let secp = nostr::secp256k1::Secp256k1::signing_only();
    let public = nostr::secp256k1::PublicKey::from_secret_key(&secp, keys.secret_key());
    hex::encode(public.serialize())
}

/// Writes `keys`' secret as 64 hex characters to a new file with mode 0600; an existing file
/// is never overwritten (it may hold a key that already signs).
pub fn write_new(path: &Path, keys: &Keys) -> Result<(), Error> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| key_error(path, e))?;
    writeln!(file, "{}", keys.secret_key().to_secret_hex()).map_err(|e| key_error(path, e))?;
    file.sync_all().map_err(|e| key_error(path, e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// nutshell 0.21.0, `MINT_PRIVATE_KEY=testseed1`, answered this `/v1/info` `pubkey`.
    const NUTSHELL_TESTSEED1_PUBKEY: &str =
        "02c74af7bdffd23e29f932110950fa930addd90f67afba6e3dccc22948f60876b8";

    #[test]
    fn the_nutshell_seed_gives_the_pubkey_nutshell_shows() {
        let keys = from_nutshell_seed("testseed1").expect("key");
        assert_eq!(
            keys.public_key().to_hex(),
            NUTSHELL_TESTSEED1_PUBKEY[2..],
            "x-only key of nutshell's pubkey"
        );
        // With its parity byte, as the operator of a cdk-mintd sets it.
        assert_eq!(compressed_public_key(&keys), NUTSHELL_TESTSEED1_PUBKEY);
        let fresh = generate();
        assert_eq!(
            compressed_public_key(&fresh)[2..],
            fresh.public_key().to_hex()
        );
    }

    #[test]
    fn a_written_key_reads_back_and_a_shared_file_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("mint.key");
        let keys = from_nutshell_seed("another seed").expect("key");
        write_new(&path, &keys).expect("written");
        assert_eq!(load(&path).expect("loads").public_key(), keys.public_key());
        assert!(write_new(&path, &keys).is_err(), "never overwritten");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        let e = load(&path).expect_err("readable by others").to_string();
        assert!(e.contains("644"), "{e}");
    }
}
