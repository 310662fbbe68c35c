//! A real cdk mint (cdk 0.18) in process, for the tests and the demo: its books in PostgreSQL
//! (`cdk-postgres`), the fake Lightning backend (`cdk-fake-wallet`: every invoice it issues is
//! paid at once, and a melt pays any invoice, see [`fake_invoice`]), and its HTTP API
//! (`cdk-axum`) on a free loopback port. Its NUT-06 `pubkey` is a key the caller holds, as an
//! operator sets cdk-mintd's `[mint_info] pubkey`, so a gateway holding that key may serve it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use anyhow::Context;
use cdk::mint::{MintBuilder, MintMeltLimits};
use cdk::nuts::nut00::KnownMethod;
use cdk::nuts::{CurrencyUnit, PaymentMethod};
use cdk::types::FeeReserve;
use cdk::Mint;
use cdk_fake_wallet::FakeWallet;
use cdk_postgres::MintPgDatabase;

use crate::database::ensure_database;

/// Smallest and largest amount of one mint or melt, sat.
const LIMITS_SAT: (u64, u64) = (1, 1_000_000);

/// A running cdk mint and its HTTP server.
pub struct CdkMint {
    /// The mint itself (keyset rotation goes through it, as cdk-mintd's RPC does).
    pub mint: Arc<Mint>,
    /// Its HTTP API, `http://127.0.0.1:<port>`.
    pub url: String,
    /// Its PostgreSQL database, as a URL.
    pub db: String,
    server: tokio::task::JoinHandle<()>,
}

impl CdkMint {
    /// Starts a mint named `name` on the PostgreSQL database `db` (created if missing), sat only
    /// over BOLT11 (1 to 1,000,000 sat per quote; melts reserve 1 sat or 2 %, whichever is
    /// more), its keysets derived from `seed`, its `/v1/info` `pubkey` the public key of `key`.
    pub async fn start(
        db: &str,
        name: &str,
        key: &nostr::Keys,
        seed: &[u8; 64],
    ) -> anyhow::Result<CdkMint> {
        ensure_database(db).await?;
        let store = Arc::new(
            MintPgDatabase::new(db)
                .await
                .context("cannot open the cdk mint's database")?,
        );
        let mut builder = MintBuilder::new(store.clone());
        let fee_reserve = FeeReserve {
            min_fee_reserve: 1.into(),
            percent_fee_reserve: 0.02,
        };
        let lightning = FakeWallet::new(
            fee_reserve,
            HashMap::default(),
            HashSet::default(),
            0,
            CurrencyUnit::Sat,
        );
        builder
            .add_payment_processor(
                CurrencyUnit::Sat,
                PaymentMethod::Known(KnownMethod::Bolt11),
                MintMeltLimits::new(LIMITS_SAT.0, LIMITS_SAT.1),
                Arc::new(lightning),
            )
            .await
            .context("the fake Lightning backend")?;
        let secret = cdk::nuts::SecretKey::from_hex(key.secret_key().to_secret_hex())
            .context("the mint's key")?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot listen on loopback")?;
        let url = format!("http://{}", listener.local_addr()?);
        let builder = builder
            .with_pubkey(secret.public_key())
            .with_name(name.to_string())
            .with_urls(vec![url.clone()]);
        let mint = builder
            .build_with_seed(store, seed)
            .await
            .context("cannot build the cdk mint")?;
        mint.start().await.context("cannot start the cdk mint")?;
        let mint = Arc::new(mint);
        let router = cdk_axum::create_mint_router(mint.clone(), vec!["bolt11".to_string()])
            .await
            .context("the cdk mint's router")?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(CdkMint {
            mint,
            url,
            db: db.to_string(),
            server,
        })
    }

    /// Stops the HTTP server and the mint (its database stays).
    pub async fn stop(self) {
        self.server.abort();
        let _ = self.mint.stop().await;
    }
}

/// 64 bytes of seed from a phrase (its SHA-512), for mints and wallets named by a text.
pub fn seed_from_text(text: &str) -> [u8; 64] {
    use sha2::{Digest, Sha512};
    let digest = Sha512::digest(text.as_bytes());
    let mut out = [0u8; 64];
    out.copy_from_slice(&digest);
    out
}

/// A BOLT11 invoice of `amount_sat` (sat, at least 1) that the fake backend pays when a
/// wallet melts to it; a fresh payment hash each call, so the same amount can be paid again.
pub fn fake_invoice(amount_sat: u64) -> String {
    cdk_fake_wallet::create_fake_invoice(amount_sat.saturating_mul(1_000), "melt".to_string())
        .to_string()
}
