//! What a wallet remembers of its payments, beside `wallet.json`, one writer per file so a
//! `listen` running beside a `pay` never loses either's writes:
//! - `requests/<receiving key>.json`: each payment request made, with its fresh receiving key
//!   (written once by `request`, read by `listen`);
//! - `sent.jsonl`: each token, payment and nutzap sent, with its `Y`s and the token itself, so
//!   `sent` can ask whether it was redeemed and a payment that was never delivered is not lost;
//! - `received.jsonl`: each payment `listen` handled (redeemed, or refused with the token kept),
//!   by event id, so an event delivered twice, by two relays or after a restart, is handled once.
//!
//! Every file is owner-only: the records hold tokens and keys.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::WalletError;
use crate::home::{write_private, WalletHome};

/// A payment request this wallet made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenRequest {
    /// The request's payment id (`i`), echoed in the payer's payload.
    pub id: String,
    /// The fresh receiving key's secret (hex): the gift wraps are addressed to it.
    pub secret: String,
    /// Sat requested; `None` lets the payer choose.
    pub amount: Option<u64>,
    /// The mints accepted (x-only hex); the payer must pay at one of them.
    pub mints: Vec<String>,
    /// The relays of the request's nprofile.
    pub relays: Vec<String>,
    /// Unix seconds.
    pub created_at: u64,
}

/// How a payment was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SentHow {
    /// A cashu token printed by `send`.
    Token,
    /// A NUT-18 payment request paid over nostr.
    Request,
    /// A NIP-61 nutzap.
    Nutzap,
}

impl SentHow {
    /// As printed.
    pub fn as_str(self) -> &'static str {
        match self {
            SentHow::Token => "token",
            SentHow::Request => "request",
            SentHow::Nutzap => "nutzap",
        }
    }
}

/// A payment this wallet sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentRecord {
    /// The gift wrap's or nutzap's event id, or for a token a hash of it.
    pub id: String,
    /// Unix seconds.
    pub at: u64,
    /// How it was sent.
    pub how: SentHow,
    /// Sat received by the other side (the fees the sender paid are not in it).
    pub amount: u64,
    /// The mint (x-only hex).
    pub mint: String,
    /// To whom: the request's receiving key or the nutzap's npub (hex); none for a token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// The `Y`s (compressed hex) of the proofs sent: spent once the receiver redeems.
    pub ys: Vec<String>,
    /// The token sent, so it can be taken back if it was never delivered.
    pub token: String,
}

/// What `listen` did with a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Swapped at the mint: the wallet holds it.
    Redeemed,
    /// Not taken, for good (a mint this wallet does not accept, proofs already spent, not locked
    /// to this wallet): the token is kept in the record.
    Refused,
    /// The mint could not be asked (no answer): tried again on the next delivery or `listen`.
    Failed,
}

/// A payment `listen` handled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedRecord {
    /// The gift wrap's or nutzap's event id (hex).
    pub event: String,
    /// Unix seconds.
    pub at: u64,
    /// `request` or `nutzap`.
    pub how: SentHow,
    /// What was done.
    pub outcome: Outcome,
    /// Sat: received when redeemed, offered otherwise.
    pub amount: u64,
    /// The mint the payment named (its URL as the payment gave it).
    pub mint: String,
    /// Why, for a person.
    pub detail: String,
    /// The token of a payment not redeemed, so nothing is lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

fn file_error(path: &Path, why: impl ToString) -> WalletError {
    WalletError::File {
        path: path.display().to_string(),
        why: why.to_string(),
    }
}

/// Appends one JSON line (owner-only file, created if missing).
fn append_line<T: Serialize>(path: &Path, record: &T) -> Result<(), WalletError> {
    let mut line = serde_json::to_vec(record).map_err(|e| file_error(path, e))?;
    line.push(b'\n');
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| file_error(path, e))?;
    // One write of the whole line: lines from two processes never interleave.
    file.write_all(&line).map_err(|e| file_error(path, e))?;
    file.sync_data().map_err(|e| file_error(path, e))
}

/// Every line of `path` that parses (a torn last line, from a crash mid-write, is skipped).
fn read_lines<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, WalletError> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(file_error(path, e)),
    };
    let mut out = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|e| file_error(path, e))?;
        match serde_json::from_str(&line) {
            Ok(record) => out.push(record),
            Err(e) => tracing::warn!(file = %path.display(), error = %e, "skipping a bad line"),
        }
    }
    Ok(out)
}

impl WalletHome {
    /// Remembers a request made (its receiving key above all).
    pub fn save_request(&self, request: &OpenRequest) -> Result<(), WalletError> {
        let dir = self.dir().join("requests");
        std::fs::create_dir_all(&dir).map_err(|e| file_error(&dir, e))?;
        let key = nostr::SecretKey::from_hex(&request.secret)
            .map_err(|e| WalletError::Input(format!("receiving key: {e}")))?;
        let name = nostr::Keys::new(key).public_key().to_hex();
        let path = dir.join(format!("{name}.json"));
        let text = serde_json::to_vec_pretty(request).map_err(|e| file_error(&path, e))?;
        write_private(&path, &text).map_err(|e| file_error(&path, e))
    }

    /// Every request made, oldest first.
    pub fn requests(&self) -> Result<Vec<OpenRequest>, WalletError> {
        self.requests_except(|_| false)
    }

    /// The requests whose receiving key (hex, the file's name) `known` does not claim, oldest
    /// first: a listener reads only what was added since its last look.
    pub fn requests_except(
        &self,
        known: impl Fn(&str) -> bool,
    ) -> Result<Vec<OpenRequest>, WalletError> {
        let dir = self.dir().join("requests");
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(file_error(&dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| file_error(&dir, e))?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            if path
                .file_stem()
                .and_then(|s| s.to_str())
                .is_some_and(&known)
            {
                continue;
            }
            let text = std::fs::read(&path).map_err(|e| file_error(&path, e))?;
            match serde_json::from_slice::<OpenRequest>(&text) {
                Ok(request) => out.push(request),
                Err(e) => tracing::warn!(file = %path.display(), error = %e, "skipping a request"),
            }
        }
        out.sort_by_key(|r| r.created_at);
        Ok(out)
    }

    /// Remembers a payment sent.
    pub fn record_sent(&self, record: &SentRecord) -> Result<(), WalletError> {
        append_line(&self.dir().join("sent.jsonl"), record)
    }

    /// Every payment sent, oldest first.
    pub fn sent(&self) -> Result<Vec<SentRecord>, WalletError> {
        read_lines(&self.dir().join("sent.jsonl"))
    }

    /// Remembers a payment handled.
    pub fn record_received(&self, record: &ReceivedRecord) -> Result<(), WalletError> {
        append_line(&self.dir().join("received.jsonl"), record)
    }

    /// Every payment handled, oldest first.
    pub fn received(&self) -> Result<Vec<ReceivedRecord>, WalletError> {
        read_lines(&self.dir().join("received.jsonl"))
    }

    /// The events handled for good (redeemed or refused): never handled again.
    pub fn settled_events(&self) -> Result<HashSet<String>, WalletError> {
        Ok(self
            .received()?
            .into_iter()
            .filter(|r| r.outcome != Outcome::Failed)
            .map(|r| r.event)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(event: &str, outcome: Outcome) -> ReceivedRecord {
        ReceivedRecord {
            event: event.into(),
            at: 1,
            how: SentHow::Request,
            outcome,
            amount: 5,
            mint: "nmc://00".into(),
            detail: String::new(),
            token: None,
        }
    }

    #[test]
    fn records_survive_a_reopen_and_a_torn_line() {
        let dir = tempfile::tempdir().expect("dir");
        let (home, _) = WalletHome::open(dir.path(), None).expect("wallet");
        let request = OpenRequest {
            id: "abc".into(),
            secret: nostr::Keys::generate().secret_key().to_secret_hex(),
            amount: Some(21),
            mints: vec!["11".repeat(32)],
            relays: vec!["ws://127.0.0.1:1".into()],
            created_at: 7,
        };
        home.save_request(&request).expect("saved");
        home.record_received(&received("e1", Outcome::Redeemed))
            .expect("recorded");
        home.record_received(&received("e2", Outcome::Failed))
            .expect("recorded");
        home.record_received(&received("e3", Outcome::Refused))
            .expect("recorded");
        // A crash in the middle of a line leaves a torn line; the rest still reads.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("received.jsonl"))
            .expect("open");
        f.write_all(b"{\"event\":\"e4\",").expect("torn");
        drop(f);
        drop(home);
        let (home, _) = WalletHome::open(dir.path(), None).expect("reopen");
        assert_eq!(home.requests().expect("requests"), vec![request]);
        let settled = home.settled_events().expect("settled");
        assert!(settled.contains("e1") && settled.contains("e3"));
        assert!(!settled.contains("e2"), "a failure is tried again");
        assert_eq!(settled.len(), 2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for name in ["received.jsonl", "requests"] {
                let path = dir.path().join(name);
                let path = if path.is_dir() {
                    std::fs::read_dir(&path)
                        .expect("dir")
                        .next()
                        .expect("a request")
                        .expect("entry")
                        .path()
                } else {
                    path
                };
                let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
                assert_eq!(mode & 0o077, 0, "{} is owner-only", path.display());
            }
        }
    }
}
