//! The demo's real mint: cdk in process (the testkit's, with the fake Lightning backend that pays
//! every invoice at once), its books in a PostgreSQL database of the demo's own
//! (`<demo database>_cdk_mint`), and the gateway beside it, in process too, publishing to the
//! demo's relay: the mint's identity (11467, 38172), its spent-secret and issuance feed (4919),
//! and its API over nostr (NMC) for the demo's wallets. A fresh mint each run: its database is
//! dropped at start and at stop, and its key is new, so a restart never forks an old feed.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use nostr_sdk::prelude::{Keys, PublicKey};
use tokio::sync::oneshot;
use tracing::{error, warn};

use mintwatch_gateway::{GatewayConfig, MintKind, RelayTiming};
use mintwatch_testkit::cdk_mint::{seed_from_text, CdkMint};
use mintwatch_testkit::database::drop_database;

/// Time between two reads of the mint's database by the gateway: a burn is on the relay within
/// about this long.
pub const BATCH_INTERVAL: Duration = Duration::from_secs(2);

/// The name the mint gives in its `/v1/info`.
const NAME: &str = "mintwatch demo mint (cdk)";

/// The cdk mint and its gateway, running.
pub struct RealMint {
    /// The mint's nostr key: the x coordinate of its NUT-06 `pubkey`.
    pub key: PublicKey,
    /// cdk's HTTP API on loopback; only the gateway calls it.
    pub url: String,
    mint: CdkMint,
    stop_gateway: oneshot::Sender<()>,
    gateway: tokio::task::JoinHandle<Result<(), mintwatch_gateway::Error>>,
}

/// The URL of the mint's database: the demo's, with `_cdk_mint` after its name.
fn mint_database_url(database_url: &str) -> anyhow::Result<String> {
    let mut url = url::Url::parse(database_url).context("the database URL is not a URL")?;
    let name = url.path().trim_start_matches('/').to_string();
    anyhow::ensure!(!name.is_empty(), "the database URL names no database");
    url.set_path(&format!("/{name}_cdk_mint"));
    Ok(url.to_string())
}

impl RealMint {
    /// Starts a fresh mint on the PostgreSQL server of `database_url`, and its gateway
    /// publishing to `relay` with its state (SQLite) in `dir`.
    pub async fn start(database_url: &str, relay: &str, dir: &Path) -> anyhow::Result<RealMint> {
        let db = mint_database_url(database_url)?;
        drop_database(&db)
            .await
            .context("cannot drop the previous demo mint's database")?;
        let keys = Keys::generate();
        let seed = seed_from_text(&keys.secret_key().to_secret_hex());
        let mint = CdkMint::start(&db, NAME, &keys, &seed)
            .await
            .context("cannot start the cdk mint")?;
        let config = GatewayConfig {
            mint_url: url::Url::parse(&mint.url)?,
            mint_db: db,
            mint_kind: Some(MintKind::Cdk),
            keys: keys.clone(),
            relays: vec![relay.to_string()],
            state: dir.join("gateway.sqlite3"),
            batch_interval: BATCH_INTERVAL,
            info_interval: Duration::from_secs(mintwatch_gateway::DEFAULT_INFO_SECS),
            max_lag: Duration::from_secs(mintwatch_gateway::DEFAULT_MAX_LAG_SECS),
            max_event_bytes: mintwatch_gateway::DEFAULT_MAX_EVENT_KIB * 1024,
            network: "regtest".to_string(),
            // No listener: its metrics go to the demo's recorder, on the demo's /metrics.
            listen: None,
            relay_timing: RelayTiming::default(),
            nmc: Some(mintwatch_gateway::nmc::NmcSettings::default()),
            mint_source: None,
        };
        let (stop_gateway, stopped) = oneshot::channel::<()>();
        let gateway = tokio::spawn(async move {
            let ended = mintwatch_gateway::run(config, async {
                let _ = stopped.await;
            })
            .await;
            if let Err(e) = &ended {
                error!(error = %e, "the demo mint's gateway stopped: no feed, no NMC");
            }
            ended
        });
        Ok(RealMint {
            key: keys.public_key(),
            url: mint.url.clone(),
            mint,
            stop_gateway,
            gateway,
        })
    }

    /// Stops the gateway, then the mint, and drops the mint's database.
    pub async fn stop(self) {
        let _ = self.stop_gateway.send(());
        match tokio::time::timeout(Duration::from_secs(10), self.gateway).await {
            Ok(_) => {}
            Err(_) => warn!("the demo mint's gateway did not stop within 10 s"),
        }
        let db = self.mint.db.clone();
        self.mint.stop().await;
        if let Err(e) = drop_database(&db).await {
            warn!(error = %e, "cannot drop the demo mint's database");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mint_database_is_named_after_the_demos() {
        assert_eq!(
            mint_database_url("postgres://postgres@127.0.0.1:5432/mintwatch").ok(),
            Some("postgres://postgres@127.0.0.1:5432/mintwatch_cdk_mint".to_string())
        );
        assert!(mint_database_url("postgres://127.0.0.1:5432").is_err());
    }
}
