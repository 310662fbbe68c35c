//! `mintwatch gateway`: the flags, environment and config file of the gateway beside a mint, and
//! `mintwatch gateway key`. The gateway itself is the `mintwatch-gateway` crate.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};

use crate::config::without_password;
use mintwatch_gateway::{GatewayConfig, MintKind, RelayTiming};

/// Default of `--state`.
pub const DEFAULT_STATE: &str = "mintwatch-gateway.sqlite3";
/// Default of `--listen`.
pub const DEFAULT_GATEWAY_LISTEN: &str = "127.0.0.1:8339";
/// Default of `--network`.
pub const DEFAULT_NETWORK: &str = "mainnet";
/// Default of `--nmc-global-rate` (requests per second).
pub const DEFAULT_NMC_GLOBAL_RATE: f64 = 100.0;

/// The NMC service's settings: the defaults, with the global rate given (its burst twice it).
fn nmc_settings(global_rate: Option<f64>) -> mintwatch_gateway::nmc::NmcSettings {
    let defaults = mintwatch_gateway::nmc::NmcSettings::default();
    match global_rate {
        Some(per_second) => mintwatch_gateway::nmc::NmcSettings {
            global_rate: mintwatch_protocol::ratelimit::RateLimit {
                // Float to integer casts saturate; a rate above u32::MAX/2 is unlimited anyway.
                burst: (per_second * 2.0).ceil().max(1.0) as u32,
                per_second,
            },
            ..defaults
        },
        None => defaults,
    }
}

#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Every setting can come from a flag, its environment variable, the --config \
                  file (keys as the flags, with `_`: mint_url, relays, …) or the default, in \
                  that order of precedence."
)]
pub struct GatewayArgs {
    #[command(subcommand)]
    command: Option<GatewayCommand>,
    /// A TOML file whose keys mirror these flags.
    #[arg(long, env = "MINTWATCH_GATEWAY_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,
    /// The mint's HTTP API, e.g. http://127.0.0.1:3338.
    #[arg(long, env = "MINTWATCH_MINT_URL", value_name = "URL")]
    mint_url: Option<String>,
    /// The mint's database, read only: a SQLite file (nutshell: <MINT_DATABASE>/mint.sqlite3)
    /// or a postgres:// URL.
    #[arg(long, env = "MINTWATCH_MINT_DB", value_name = "PATH|URL")]
    mint_db: Option<String>,
    /// nutshell or cdk [default: detected from the database's tables].
    #[arg(long, env = "MINTWATCH_MINT_KIND", value_name = "KIND")]
    mint_kind: Option<String>,
    /// The mint's nostr secret key (64 hex or nsec, mode 0600); see `mintwatch gateway key`.
    #[arg(long, env = "MINTWATCH_GATEWAY_KEY_FILE", value_name = "PATH")]
    key_file: Option<PathBuf>,
    /// A relay to publish to (repeatable; the environment takes a comma-separated list).
    #[arg(
        long = "relay",
        env = "MINTWATCH_GATEWAY_RELAYS",
        value_delimiter = ',',
        value_name = "URL"
    )]
    relays: Vec<String>,
    /// The gateway's own state (SQLite file) [default: mintwatch-gateway.sqlite3].
    #[arg(long, env = "MINTWATCH_GATEWAY_STATE", value_name = "PATH")]
    state: Option<PathBuf>,
    /// Seconds between two reads of the mint's database [default: 5].
    #[arg(long, env = "MINTWATCH_GATEWAY_BATCH_SECS", value_name = "SECS")]
    batch_secs: Option<u64>,
    /// Where /metrics and /readyz listen [default: 127.0.0.1:8339].
    #[arg(long, env = "MINTWATCH_GATEWAY_LISTEN", value_name = "ADDR:PORT")]
    listen: Option<String>,
    /// The announcement's network: mainnet, testnet, signet or regtest [default: mainnet].
    #[arg(long, env = "MINTWATCH_GATEWAY_NETWORK", value_name = "NETWORK")]
    network: Option<String>,
    /// Seconds between two checks of the mint's /v1/info [default: 60].
    #[arg(long, env = "MINTWATCH_GATEWAY_INFO_SECS", value_name = "SECS")]
    info_secs: Option<u64>,
    /// /readyz fails when the oldest unpublished entry is older than this [default: 300].
    #[arg(long, env = "MINTWATCH_GATEWAY_MAX_LAG_SECS", value_name = "SECS")]
    max_lag_secs: Option<u64>,
    /// Largest event in KiB, at most 512 (some public relays take less) [default: 512].
    #[arg(long, env = "MINTWATCH_GATEWAY_MAX_EVENT_KIB", value_name = "KIB")]
    max_event_kib: Option<usize>,
    /// Serve the mint's API over nostr (Nostr Mint Connect, docs/NMC.md) on the relays
    /// [default: true].
    #[arg(long, env = "MINTWATCH_GATEWAY_NMC", value_name = "BOOL")]
    nmc: Option<bool>,
    /// The local address the gateway's calls to the mint come from (an IP of this host), so
    /// the mint's firewall or access log tells them apart [default: the system's choice].
    #[arg(long, env = "MINTWATCH_GATEWAY_MINT_SOURCE", value_name = "IP")]
    mint_source: Option<String>,
    /// NMC requests per second answered from all requesters together (fresh keys cost
    /// nothing, so this bounds what the relays can make the mint do); bursts of twice as many
    /// [default: 100].
    #[arg(
        long,
        env = "MINTWATCH_GATEWAY_NMC_GLOBAL_RATE",
        value_name = "PER_SEC"
    )]
    nmc_global_rate: Option<f64>,
    /// Print the effective settings (a database password as `***`) and exit.
    #[arg(long)]
    print_config: bool,
}

#[derive(Debug, Subcommand)]
enum GatewayCommand {
    /// Write the mint's nostr key file.
    Key(KeyArgs),
}

#[derive(Debug, Args)]
struct KeyArgs {
    /// Derive the key as nutshell does from its seed: the secret sha256(MINT_PRIVATE_KEY),
    /// whose public key is the mint's /v1/info pubkey. The seed is read from MINT_PRIVATE_KEY,
    /// else from standard input.
    #[arg(long, conflicts_with = "generate")]
    from_nutshell_seed: bool,
    /// A new random key, for cdk-mintd: set its `[mint_info] pubkey` to the public key printed.
    #[arg(long)]
    generate: bool,
    /// The key file to create (mode 0600; an existing file is never overwritten).
    #[arg(long, env = "MINTWATCH_GATEWAY_KEY_FILE", value_name = "PATH")]
    key_file: PathBuf,
}

/// The config file's keys (all optional); a flag or environment variable wins over each.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayLayer {
    #[serde(skip_serializing_if = "Option::is_none")]
    mint_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mint_db: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mint_kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    relays: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    batch_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    network: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    info_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_lag_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_event_kib: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nmc: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mint_source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nmc_global_rate: Option<f64>,
}

impl GatewayLayer {
    fn over(self, lower: GatewayLayer) -> GatewayLayer {
        GatewayLayer {
            mint_url: self.mint_url.or(lower.mint_url),
            mint_db: self.mint_db.or(lower.mint_db),
            mint_kind: self.mint_kind.or(lower.mint_kind),
            key_file: self.key_file.or(lower.key_file),
            relays: self.relays.or(lower.relays),
            state: self.state.or(lower.state),
            batch_secs: self.batch_secs.or(lower.batch_secs),
            listen: self.listen.or(lower.listen),
            network: self.network.or(lower.network),
            info_secs: self.info_secs.or(lower.info_secs),
            max_lag_secs: self.max_lag_secs.or(lower.max_lag_secs),
            max_event_kib: self.max_event_kib.or(lower.max_event_kib),
            nmc: self.nmc.or(lower.nmc),
            mint_source: self.mint_source.or(lower.mint_source),
            nmc_global_rate: self.nmc_global_rate.or(lower.nmc_global_rate),
        }
    }

    fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the config file {}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))
    }

    /// Applies the defaults and checks every value.
    fn resolve(self) -> anyhow::Result<GatewayLayer> {
        let missing = |what: &str, flag: &str, env: &str, key: &str| {
            anyhow::anyhow!("no {what}: give {flag}, {env} or `{key}` in the config file")
        };
        let mint_url = self
            .mint_url
            .ok_or_else(|| missing("mint URL", "--mint-url", "MINTWATCH_MINT_URL", "mint_url"))?;
        let parsed = url::Url::parse(&mint_url)
            .with_context(|| format!("mint_url: {mint_url:?} is not a URL"))?;
        anyhow::ensure!(
            matches!(parsed.scheme(), "http" | "https"),
            "mint_url: {mint_url:?} is not http(s)"
        );
        let mint_db = self
            .mint_db
            .ok_or_else(|| missing("mint database", "--mint-db", "MINTWATCH_MINT_DB", "mint_db"))?;
        if let Some(kind) = &self.mint_kind {
            kind.parse::<MintKind>()?;
        }
        let key_file = self.key_file.ok_or_else(|| {
            missing(
                "key file",
                "--key-file",
                "MINTWATCH_GATEWAY_KEY_FILE",
                "key_file",
            )
        })?;
        let relays = self.relays.unwrap_or_default();
        anyhow::ensure!(
            !relays.is_empty(),
            "no relay to publish to: give --relay <url> (repeatable), MINTWATCH_GATEWAY_RELAYS \
             (comma-separated) or `relays` in the config file"
        );
        for relay in &relays {
            let ok = url::Url::parse(relay)
                .map(|u| matches!(u.scheme(), "ws" | "wss") && u.host().is_some())
                .unwrap_or(false);
            anyhow::ensure!(ok, "relays: {relay:?} is not a ws:// or wss:// URL");
        }
        let batch_secs = self
            .batch_secs
            .unwrap_or(mintwatch_gateway::DEFAULT_BATCH_SECS);
        anyhow::ensure!(batch_secs >= 1, "batch_secs: at least 1");
        let max_event_kib = self
            .max_event_kib
            .unwrap_or(mintwatch_gateway::DEFAULT_MAX_EVENT_KIB);
        anyhow::ensure!(
            (4..=512).contains(&max_event_kib),
            "max_event_kib: between 4 and 512 (PROTOCOL.md §2.2)"
        );
        let network = self.network.unwrap_or_else(|| DEFAULT_NETWORK.to_string());
        anyhow::ensure!(
            matches!(
                network.as_str(),
                "mainnet" | "testnet" | "signet" | "regtest"
            ),
            "network: {network:?} is not mainnet, testnet, signet or regtest"
        );
        Ok(GatewayLayer {
            mint_url: Some(mint_url),
            mint_db: Some(mint_db),
            mint_kind: self.mint_kind,
            key_file: Some(key_file),
            relays: Some(relays),
            state: Some(self.state.unwrap_or_else(|| PathBuf::from(DEFAULT_STATE))),
            batch_secs: Some(batch_secs),
            listen: Some(
                self.listen
                    .unwrap_or_else(|| DEFAULT_GATEWAY_LISTEN.to_string()),
            ),
            network: Some(network),
            info_secs: Some(
                self.info_secs
                    .unwrap_or(mintwatch_gateway::DEFAULT_INFO_SECS),
            ),
            max_lag_secs: Some(
                self.max_lag_secs
                    .unwrap_or(mintwatch_gateway::DEFAULT_MAX_LAG_SECS),
            ),
            max_event_kib: Some(max_event_kib),
            nmc: Some(self.nmc.unwrap_or(true)),
            mint_source: match self.mint_source {
                Some(ip) => Some(
                    ip.parse::<std::net::IpAddr>()
                        .map_err(|e| anyhow::anyhow!("mint_source {ip:?}: {e}"))?
                        .to_string(),
                ),
                None => None,
            },
            nmc_global_rate: match self.nmc_global_rate {
                Some(rate) if !(rate.is_finite() && rate > 0.0) => {
                    anyhow::bail!("nmc_global_rate must be a positive number of requests per second, not {rate}")
                }
                rate => Some(rate.unwrap_or(DEFAULT_NMC_GLOBAL_RATE)),
            },
        })
    }

    /// The resolved settings as the gateway takes them (reads the key file).
    fn into_config(self) -> anyhow::Result<GatewayConfig> {
        let get = |v: Option<String>| v.unwrap_or_default();
        let key_file = self.key_file.unwrap_or_default();
        Ok(GatewayConfig {
            mint_url: url::Url::parse(&get(self.mint_url))?,
            mint_db: get(self.mint_db),
            mint_kind: self.mint_kind.map(|k| k.parse()).transpose()?,
            keys: mintwatch_gateway::key::load(&key_file)?,
            relays: self.relays.unwrap_or_default(),
            state: self.state.unwrap_or_default(),
            batch_interval: Duration::from_secs(self.batch_secs.unwrap_or(1)),
            info_interval: Duration::from_secs(self.info_secs.unwrap_or(1)),
            max_lag: Duration::from_secs(self.max_lag_secs.unwrap_or(1)),
            max_event_bytes: self.max_event_kib.unwrap_or(512) * 1024,
            network: get(self.network),
            listen: self.listen.filter(|l| !l.is_empty()),
            relay_timing: RelayTiming::default(),
            nmc: self
                .nmc
                .unwrap_or(true)
                .then(|| nmc_settings(self.nmc_global_rate)),
            mint_source: self.mint_source.map(|ip| ip.parse()).transpose()?,
        })
    }
}

/// Runs `mintwatch gateway` (or `mintwatch gateway key`).
pub async fn run(args: GatewayArgs) -> anyhow::Result<()> {
    if let Some(GatewayCommand::Key(key)) = args.command {
        return write_key(&key);
    }
    let cli = GatewayLayer {
        mint_url: args.mint_url,
        mint_db: args.mint_db,
        mint_kind: args.mint_kind,
        key_file: args.key_file,
        relays: (!args.relays.is_empty()).then_some(args.relays),
        state: args.state,
        batch_secs: args.batch_secs,
        listen: args.listen,
        network: args.network,
        info_secs: args.info_secs,
        max_lag_secs: args.max_lag_secs,
        max_event_kib: args.max_event_kib,
        nmc: args.nmc,
        mint_source: args.mint_source,
        nmc_global_rate: args.nmc_global_rate,
    };
    let settings = cli
        .over(GatewayLayer::load(args.config.as_deref())?)
        .resolve()?;
    if args.print_config {
        let shown = GatewayLayer {
            mint_db: settings.mint_db.as_deref().map(without_password),
            ..settings
        };
        print!("{}", toml::to_string(&shown)?);
        return Ok(());
    }
    let config = settings.into_config()?;
    mintwatch_gateway::run(config, crate::shutdown::signal())
        .await
        .map_err(anyhow::Error::from)
}

fn write_key(args: &KeyArgs) -> anyhow::Result<()> {
    use std::io::Read;
    anyhow::ensure!(
        args.from_nutshell_seed || args.generate,
        "say where the key comes from: --from-nutshell-seed (nutshell) or --generate (cdk-mintd)"
    );
    if args.generate {
        let keys = mintwatch_gateway::key::generate();
        mintwatch_gateway::key::write_new(&args.key_file, &keys)?;
        println!(
            "wrote {}; set cdk-mintd's [mint_info] pubkey = \"{}\"",
            args.key_file.display(),
            mintwatch_gateway::key::compressed_public_key(&keys)
        );
        return Ok(());
    }
    let seed = match std::env::var("MINT_PRIVATE_KEY") {
        Ok(s) if !s.is_empty() => s,
        _ => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("cannot read the seed from standard input")?;
            s.trim_end_matches(['\n', '\r']).to_string()
        }
    };
    anyhow::ensure!(
        !seed.is_empty(),
        "no seed: set MINT_PRIVATE_KEY as for the mint, or pipe it on standard input"
    );
    let keys = mintwatch_gateway::key::from_nutshell_seed(&seed)?;
    mintwatch_gateway::key::write_new(&args.key_file, &keys)?;
    println!(
        "wrote {}; the mint's /v1/info pubkey is {}",
        args.key_file.display(),
        mintwatch_gateway::key::compressed_public_key(&keys)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn minimal() -> GatewayLayer {
        GatewayLayer {
            mint_url: Some("http://127.0.0.1:3338".into()),
            mint_db: Some("postgres://mint:s3cret@db/mint".into()),
            key_file: Some(PathBuf::from("mint.key")),
            relays: Some(vec!["wss://relay.example".into()]),
            ..GatewayLayer::default()
        }
    }

    #[test]
    fn defaults_fill_what_no_layer_sets() {
        let s = minimal().resolve().expect("valid");
        assert_eq!(s.state, Some(PathBuf::from(DEFAULT_STATE)));
        assert_eq!(s.batch_secs, Some(mintwatch_gateway::DEFAULT_BATCH_SECS));
        assert_eq!(s.listen.as_deref(), Some(DEFAULT_GATEWAY_LISTEN));
        assert_eq!(s.network.as_deref(), Some(DEFAULT_NETWORK));
        let file: GatewayLayer =
            toml::from_str("batch_secs = 9\nnetwork = \"regtest\"\n").expect("toml");
        let cli = GatewayLayer {
            batch_secs: Some(2),
            ..minimal()
        };
        let s = cli.over(file).resolve().expect("valid");
        assert_eq!(s.batch_secs, Some(2));
        assert_eq!(s.network.as_deref(), Some("regtest"));
        assert_eq!(s.nmc_global_rate, Some(DEFAULT_NMC_GLOBAL_RATE));
    }

    #[test]
    fn the_nmc_global_rate_sets_the_bucket_and_its_burst() {
        let defaults = mintwatch_gateway::nmc::NmcSettings::default();
        assert_eq!(nmc_settings(None).global_rate, defaults.global_rate);
        let raised = nmc_settings(Some(250.0));
        assert_eq!(raised.global_rate.per_second, 250.0);
        assert_eq!(raised.global_rate.burst, 500);
        assert_eq!(
            raised.rate, defaults.rate,
            "the per-requester limit is kept"
        );
        let file: GatewayLayer =
            toml::from_str("nmc_global_rate = 40.5\nmint_source = \"127.0.0.2\"\n").expect("toml");
        let s = minimal().over(file).resolve().expect("valid");
        assert_eq!(s.nmc_global_rate, Some(40.5));
        assert_eq!(s.mint_source.as_deref(), Some("127.0.0.2"));
    }

    #[test]
    fn missing_and_bad_settings_are_named() {
        let e = GatewayLayer::default()
            .resolve()
            .expect_err("empty")
            .to_string();
        assert!(
            e.contains("--mint-url") && e.contains("MINTWATCH_MINT_URL"),
            "{e}"
        );
        for (layer, needle) in [
            (
                GatewayLayer {
                    relays: Some(vec![]),
                    ..minimal()
                },
                "--relay",
            ),
            (
                GatewayLayer {
                    relays: Some(vec!["http://x".into()]),
                    ..minimal()
                },
                "ws://",
            ),
            (
                GatewayLayer {
                    mint_kind: Some("lnbits".into()),
                    ..minimal()
                },
                "nutshell or cdk",
            ),
            (
                GatewayLayer {
                    max_event_kib: Some(4096),
                    ..minimal()
                },
                "max_event_kib",
            ),
            (
                GatewayLayer {
                    network: Some("moon".into()),
                    ..minimal()
                },
                "network",
            ),
            (
                GatewayLayer {
                    nmc_global_rate: Some(-5.0),
                    ..minimal()
                },
                "nmc_global_rate",
            ),
            (
                GatewayLayer {
                    mint_source: Some("gateway.local".into()),
                    ..minimal()
                },
                "mint_source",
            ),
        ] {
            let e = layer.resolve().expect_err(needle).to_string();
            assert!(e.contains(needle), "{needle}: {e}");
        }
        let e = toml::from_str::<GatewayLayer>("batch = 3\n")
            .expect_err("unknown")
            .to_string();
        assert!(e.contains("batch"), "{e}");
    }
}
