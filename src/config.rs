//! Settings from flags, the environment and a TOML config file (`--config`, `MINTWATCH_CONFIG`).
//!
//! Precedence, per key: a flag, then its environment variable (clap merges those two), then the
//! config file, then the default. The file's keys mirror the flags of `mintwatch run`;
//! `mintwatch.toml.example` documents every key, and a test parses it so it cannot drift from
//! this code. Unknown keys and values of the wrong type are errors that name the key.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// Default of `database_url`.
pub const DEFAULT_DATABASE_URL: &str = "postgres://localhost/mintwatch";
/// Default of `listen`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default of `gap_grace_secs` for `run`.
pub const DEFAULT_GAP_GRACE_SECS: u64 = 3600;
/// Default of `publish_interval_secs`.
pub const DEFAULT_PUBLISH_INTERVAL_SECS: u64 = 600;
/// Default of `retry_secs`: rides out a database restart.
pub const DEFAULT_RETRY_SECS: u64 = 120;
/// Default of `batch_size`.
pub const DEFAULT_BATCH_SIZE: usize = 4096;
/// Default of `max_mint_authors`.
pub const DEFAULT_MAX_MINT_AUTHORS: usize = 5_000;

/// One layer of settings: the config file, or the flags and environment as clap parsed them.
/// Every key is optional; [`Layer::over`] lets a higher layer win key by key.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    /// Relay URLs to crawl (`--relay`, `MINTWATCH_RELAYS`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relays: Option<Vec<String>>,
    /// PostgreSQL URL (`--database-url`, `DATABASE_URL`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// Where the HTTP API listens (`--listen`, `MINTWATCH_LISTEN`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// The indexer's nostr key file (`--key-file`, `MINTWATCH_KEY_FILE`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// Seconds before a dangling `e` is a gap (`--gap-grace-secs`, `MINTWATCH_GAP_GRACE_SECS`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap_grace_secs: Option<u64>,
    /// Least seconds between two assertions of one mint (`--publish-interval-secs`,
    /// `MINTWATCH_PUBLISH_INTERVAL_SECS`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish_interval_secs: Option<u64>,
    /// Seconds a failing store write or analysis is retried before the process exits
    /// (`--retry-secs`, `MINTWATCH_RETRY_SECS`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_secs: Option<u64>,
    /// Events per stored batch at most (`--batch-size`, `MINTWATCH_BATCH_SIZE`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// Compute ranks as of this unix time instead of now (`--rank-as-of`,
    /// `MINTWATCH_RANK_AS_OF`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rank_as_of: Option<u64>,
    /// Mint keys crawled for kind 1337 at most (`--max-mint-authors`,
    /// `MINTWATCH_MAX_MINT_AUTHORS`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_mint_authors: Option<usize>,
}

impl Layer {
    /// Parses a config file's text.
    pub fn parse(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// Reads and parses the config file at `path`; errors name the file and the key.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the config file {}", path.display()))?;
        Self::parse(&text).map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))
    }

    /// Reads `path` if given; no file is an empty layer.
    pub fn load_optional(path: Option<&Path>) -> anyhow::Result<Self> {
        path.map_or_else(|| Ok(Self::default()), Self::load)
    }

    /// This layer where it has a value, `lower` elsewhere.
    pub fn over(self, lower: Layer) -> Layer {
        Layer {
            relays: self.relays.or(lower.relays),
            database_url: self.database_url.or(lower.database_url),
            listen: self.listen.or(lower.listen),
            key_file: self.key_file.or(lower.key_file),
            gap_grace_secs: self.gap_grace_secs.or(lower.gap_grace_secs),
            publish_interval_secs: self.publish_interval_secs.or(lower.publish_interval_secs),
            retry_secs: self.retry_secs.or(lower.retry_secs),
            batch_size: self.batch_size.or(lower.batch_size),
            rank_as_of: self.rank_as_of.or(lower.rank_as_of),
            max_mint_authors: self.max_mint_authors.or(lower.max_mint_authors),
        }
    }
}

/// The effective settings of `mintwatch run`. Serialized, they are a valid config file
/// (`mintwatch run --print-config`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunSettings {
    /// Relay URLs to crawl, at least one, each `ws://` or `wss://`.
    pub relays: Vec<String>,
    /// PostgreSQL URL.
    pub database_url: String,
    /// Where the HTTP API listens.
    pub listen: String,
    /// The indexer's key file; without it nothing is published on nostr.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// Gap grace period, seconds.
    pub gap_grace_secs: u64,
    /// Least time between two assertions of one mint, seconds.
    pub publish_interval_secs: u64,
    /// How long a failing store write or analysis is retried, seconds.
    pub retry_secs: u64,
    /// Events per stored batch at most, at least 1.
    pub batch_size: usize,
    /// Ranks as of this unix time; none: now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rank_as_of: Option<u64>,
    /// Mint keys crawled for kind 1337 at most.
    pub max_mint_authors: usize,
}

impl RunSettings {
    /// Applies the defaults to the merged layers and checks the values.
    pub fn resolve(layer: Layer) -> anyhow::Result<Self> {
        let relays = layer.relays.unwrap_or_default();
        anyhow::ensure!(
            !relays.is_empty(),
            "no relay to crawl: give --relay <url> (repeatable), MINTWATCH_RELAYS \
             (comma-separated) or `relays` in the config file"
        );
        for relay in &relays {
            check_relay_url(relay)?;
        }
        let listen = layer.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        anyhow::ensure!(
            !listen.trim().is_empty(),
            "listen: an address:port is needed"
        );
        let batch_size = layer.batch_size.unwrap_or(DEFAULT_BATCH_SIZE);
        anyhow::ensure!(batch_size >= 1, "batch_size: at least 1");
        Ok(Self {
            relays,
            database_url: layer
                .database_url
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string()),
            listen,
            key_file: layer.key_file,
            gap_grace_secs: layer.gap_grace_secs.unwrap_or(DEFAULT_GAP_GRACE_SECS),
            publish_interval_secs: layer
                .publish_interval_secs
                .unwrap_or(DEFAULT_PUBLISH_INTERVAL_SECS),
            retry_secs: layer.retry_secs.unwrap_or(DEFAULT_RETRY_SECS),
            batch_size,
            rank_as_of: layer.rank_as_of,
            max_mint_authors: layer.max_mint_authors.unwrap_or(DEFAULT_MAX_MINT_AUTHORS),
        })
    }

    /// The settings as a config file, with a password in `database_url` shown as `***` (the
    /// output goes to terminals and logs).
    pub fn to_toml(&self) -> anyhow::Result<String> {
        let shown = Self {
            database_url: without_password(&self.database_url),
            ..self.clone()
        };
        toml::to_string(&shown).context("cannot write the settings as TOML")
    }
}

/// `url` with its password, if any, replaced by `***`, for messages and printed settings.
pub fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// A relay URL must be `ws://` or `wss://` with a host.
fn check_relay_url(relay: &str) -> anyhow::Result<()> {
    let ok = url::Url::parse(relay)
        .map(|u| matches!(u.scheme(), "ws" | "wss") && u.host().is_some())
        .unwrap_or(false);
    anyhow::ensure!(ok, "relays: {relay:?} is not a ws:// or wss:// URL");
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const EXAMPLE: &str = include_str!("../mintwatch.toml.example");

    /// Every key, set, so a new key cannot be forgotten here (the literal names every field).
    fn every_key() -> Layer {
        Layer {
            relays: Some(vec!["wss://a.example".into()]),
            database_url: Some("postgres://x/y".into()),
            listen: Some("127.0.0.1:1".into()),
            key_file: Some(PathBuf::from("k")),
            gap_grace_secs: Some(1),
            publish_interval_secs: Some(1),
            retry_secs: Some(1),
            batch_size: Some(1),
            rank_as_of: Some(1),
            max_mint_authors: Some(1),
        }
    }

    #[test]
    fn the_example_parses_and_yields_the_defaults() {
        let example = Layer::parse(EXAMPLE).expect("the example parses");
        let settings = RunSettings::resolve(example.clone()).expect("the example is valid");
        let relays = example.relays.expect("the example names relays");
        assert!(!relays.is_empty());
        assert_eq!(
            settings,
            RunSettings {
                relays,
                database_url: DEFAULT_DATABASE_URL.into(),
                listen: DEFAULT_LISTEN.into(),
                key_file: None,
                gap_grace_secs: DEFAULT_GAP_GRACE_SECS,
                publish_interval_secs: DEFAULT_PUBLISH_INTERVAL_SECS,
                retry_secs: DEFAULT_RETRY_SECS,
                batch_size: DEFAULT_BATCH_SIZE,
                rank_as_of: None,
                max_mint_authors: DEFAULT_MAX_MINT_AUTHORS,
            }
        );
    }

    #[test]
    fn the_example_documents_every_key() {
        let keys = toml::Table::try_from(every_key()).expect("a table");
        assert_eq!(keys.len(), 10);
        for key in keys.keys() {
            let documented = EXAMPLE.lines().any(|l| {
                let l = l.trim_start_matches('#').trim_start();
                l.strip_prefix(key.as_str())
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
            });
            assert!(
                documented,
                "mintwatch.toml.example does not document `{key}`"
            );
        }
    }

    #[test]
    fn a_higher_layer_wins_key_by_key_and_defaults_fill_the_rest() {
        let file = Layer {
            relays: Some(vec!["wss://file.example".into()]),
            listen: Some("127.0.0.1:9000".into()),
            gap_grace_secs: Some(100),
            ..Layer::default()
        };
        let cli = Layer {
            listen: Some("127.0.0.1:9001".into()),
            publish_interval_secs: Some(5),
            ..Layer::default()
        };
        let s = RunSettings::resolve(cli.over(file)).expect("valid");
        assert_eq!(s.relays, vec!["wss://file.example".to_string()]);
        assert_eq!(s.listen, "127.0.0.1:9001");
        assert_eq!(s.gap_grace_secs, 100);
        assert_eq!(s.publish_interval_secs, 5);
        assert_eq!(s.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(s.key_file, None);
        let all = every_key();
        assert_eq!(all.clone().over(Layer::default()), all);
        assert_eq!(Layer::default().over(all.clone()), all);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors_naming_the_key() {
        let e = Layer::parse("gap_grace = 5\n")
            .expect_err("unknown key")
            .to_string();
        assert!(
            e.contains("unknown field") && e.contains("gap_grace"),
            "{e}"
        );
        let e = Layer::parse("gap_grace_secs = \"soon\"\n")
            .expect_err("bad type")
            .to_string();
        assert!(e.contains("gap_grace_secs"), "{e}");
        let e = Layer::parse("publish_interval_secs = -1\n")
            .expect_err("negative")
            .to_string();
        assert!(e.contains("publish_interval_secs"), "{e}");
        let e = Layer::parse("relays = \"wss://one.example\"\n")
            .expect_err("not a list")
            .to_string();
        assert!(e.contains("relays"), "{e}");
        let e = RunSettings::resolve(Layer {
            relays: Some(vec!["https://not.a.relay".into()]),
            ..Layer::default()
        })
        .expect_err("not a relay URL")
        .to_string();
        assert!(
            e.contains("relays") && e.contains("https://not.a.relay"),
            "{e}"
        );
    }

    #[test]
    fn no_relay_anywhere_is_refused_naming_every_source() {
        let e = RunSettings::resolve(Layer::default())
            .expect_err("no relay")
            .to_string();
        for source in ["--relay", "MINTWATCH_RELAYS", "relays"] {
            assert!(e.contains(source), "{e}");
        }
    }

    #[test]
    fn passwords_are_not_printed() {
        assert_eq!(
            without_password("postgres://mw:s3cret@db.example:5432/mw"),
            "postgres://mw:***@db.example:5432/mw"
        );
        assert_eq!(
            without_password("postgres://mw@db.example/mw"),
            "postgres://mw@db.example/mw"
        );
        let s = RunSettings::resolve(Layer {
            database_url: Some("postgres://mw:s3cret@db.example/mw".into()),
            ..every_key()
        })
        .expect("valid");
        let text = s.to_toml().expect("toml");
        assert!(
            !text.contains("s3cret") && text.contains("mw:***@"),
            "{text}"
        );
    }

    #[test]
    fn printed_settings_are_a_config_file_that_yields_them_again() {
        let s = RunSettings::resolve(every_key()).expect("valid");
        let text = s.to_toml().expect("toml");
        let again = RunSettings::resolve(Layer::parse(&text).expect("parses")).expect("valid");
        assert_eq!(again, s);
    }
}
