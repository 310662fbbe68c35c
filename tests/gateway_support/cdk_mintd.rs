//! cdk-mintd, cdk's own mint binary (0.18.3, installed by `scripts/setup.sh`), on its default
//! SQLite books with its fake Lightning backend, in a child process on a free port: the mint most
//! cdk operators run, unmodified. Configured as an operator does: `cdk-mintd config init
//! --new-mint` from a TOML document, then started on its work directory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use cdk::wallet::Wallet;

use crate::common::{free_port, Running};
use crate::gateway_support::cdk::{cdk_wallet, read_ledger};
use crate::gateway_support::nutshell::Ledger;
use crate::gateway_support::{wait_for_info, MintUnderTest};

/// The BIP39 test mnemonic (all-zero entropy): the mint's signing keys derive from it; its nostr
/// key is set apart, as `[mint_info] pubkey`.
const MNEMONIC: &str = "abandon abandon abandon abandon abandon abandon abandon abandon abandon \
                        abandon abandon about";

fn binary() -> PathBuf {
    let bin = std::env::var("MINTWATCH_CDK_MINTD").map_or_else(
        |_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()))
                .join(".cache/mintwatch-cdk-mintd/bin/cdk-mintd")
        },
        PathBuf::from,
    );
    assert!(
        bin.is_file(),
        "cdk-mintd is not installed ({} is missing): run scripts/setup.sh",
        bin.display()
    );
    bin
}

/// A running cdk-mintd.
pub struct CdkMintd {
    process: Option<Running>,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Its SQLite books (`<work dir>/cdk-mintd.sqlite`).
    pub db: String,
    /// The secret its nostr key derives from.
    pub seed: String,
    port: u16,
    dir: tempfile::TempDir,
    databases: Vec<String>,
}

impl CdkMintd {
    /// Initializes a new mint whose `/v1/info` `pubkey` is the key derived from `seed` and
    /// starts it; waits until `/v1/info` answers.
    pub async fn start(seed: &str) -> CdkMintd {
        let dir = tempfile::tempdir().expect("work directory");
        let port = free_port();
        let mut mint = CdkMintd {
            process: None,
            url: format!("http://127.0.0.1:{port}"),
            db: dir.path().join("cdk-mintd.sqlite").display().to_string(),
            seed: seed.to_string(),
            port,
            dir,
            databases: Vec::new(),
        };
        let document = mint.document("");
        mint.config(&["init", "--new-mint", "--file"], &document);
        mint.spawn().await;
        mint
    }

    /// The configuration document; `rotations` is the TOML of `[fake_wallet] keyset_rotations`.
    fn document(&self, rotations: &str) -> PathBuf {
        let mnemonic = self.dir.path().join("mnemonic");
        std::fs::write(&mnemonic, MNEMONIC).expect("write the mnemonic");
        let keys = mintwatch_gateway::key::from_nutshell_seed(&self.seed).expect("key");
        let pubkey = mintwatch_gateway::key::compressed_public_key(&keys);
        let text = format!(
            r#"
[info]
url = "{url}/"
listen_host = "127.0.0.1"
listen_port = {port}
mnemonic = "file:{mnemonic}"

[info.logging]
output = "stderr"

[mint_info]
name = "cdk-mintd test mint"
pubkey = "{pubkey}"

[payment_backend]
backend = "fakewallet"

[fake_wallet]
fee_percent = 0.02
reserve_fee_min = 1
custom_payment_methods = []
{rotations}

[database]
engine = "sqlite"
"#,
            url = self.url,
            port = self.port,
            mnemonic = mnemonic.display(),
        );
        let path = self.dir.path().join("mintd.toml");
        std::fs::write(&path, text).expect("write the configuration");
        path
    }

    /// Runs `cdk-mintd --work-dir <dir> config <args> <document>`.
    fn config(&self, args: &[&str], document: &Path) {
        let out = Command::new(binary())
            .arg("--work-dir")
            .arg(self.dir.path())
            .arg("config")
            .args(args)
            .arg(document)
            .output()
            .expect("run cdk-mintd config");
        assert!(
            out.status.success(),
            "cdk-mintd config {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    async fn spawn(&mut self) {
        let mut cmd = Command::new(binary());
        cmd.arg("--work-dir")
            .arg(self.dir.path())
            .env("RUST_LOG", "warn")
            .stderr(std::process::Stdio::null());
        self.process = Some(Running::spawn("cdk-mintd", cmd));
        wait_for_info(
            &self.url,
            "cdk-mintd",
            Duration::from_secs(60),
            self.process.as_ref(),
        )
        .await;
    }

    /// Rotates the sat keyset as an operator of the fake backend can: stop, apply a document
    /// with one `keyset_rotations` entry (cdk-mintd creates it when the mint is built), start.
    pub async fn rotate(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.terminate(Duration::from_secs(10));
        }
        let document = self.document(r#"keyset_rotations = [{ unit = "sat", input_fee_ppk = 0 }]"#);
        self.config(&["apply", "--file"], &document);
        self.spawn().await;
    }

    /// A cdk wallet of this mint (over HTTP), with its own PostgreSQL database.
    pub async fn wallet(&mut self, name: &str) -> Wallet {
        cdk_wallet(&self.url, &self.seed, name, &mut self.databases).await
    }

    /// Reads the mint's own SQLite books.
    pub async fn ledger(&self) -> Ledger {
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new()
            .connect(&format!("sqlite://{}?mode=ro", self.db))
            .await
            .expect("mint db");
        let ledger = read_ledger(&pool, "lower(hex({}))").await;
        pool.close().await;
        ledger
    }

    /// Stops the mint and drops the wallets' databases.
    pub async fn stop(mut self) {
        if let Some(mut p) = self.process.take() {
            p.terminate(Duration::from_secs(10));
        }
        for db in std::mem::take(&mut self.databases) {
            let _ = mintwatch_testkit::database::drop_database(&db).await;
        }
    }
}

impl MintUnderTest for CdkMintd {
    fn url(&self) -> &str {
        &self.url
    }
    fn db(&self) -> &str {
        &self.db
    }
    fn seed(&self) -> &str {
        &self.seed
    }
}

impl crate::gateway_support::cdk::CdkUnderTest for CdkMintd {
    async fn wallet(&mut self, name: &str) -> Wallet {
        CdkMintd::wallet(self, name).await
    }
    async fn rotate(&mut self) {
        CdkMintd::rotate(self).await
    }
    async fn ledger(&self) -> Ledger {
        CdkMintd::ledger(self).await
    }
    async fn stop(self) {
        CdkMintd::stop(self).await
    }
}
