//! A real nutshell mint (PyPI `cashu` 0.21.0, FakeWallet backend: invoices are paid at once) in
//! a child process on a free port, with its CLI wallet and its management RPC (keyset rotation),
//! and what its own database says: spent `Y`s, issued signatures, keysets.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::Row;

use crate::common::{free_port, Running};
use crate::gateway_support::{wait_for_info, MintUnderTest};

/// The nutshell virtual environment `scripts/setup.sh` makes.
fn venv_bin(name: &str) -> PathBuf {
    let venv = std::env::var("MINTWATCH_NUTSHELL_VENV").unwrap_or_else(|_| {
        format!(
            "{}/.cache/mintwatch-nutshell",
            std::env::var("HOME").unwrap_or_else(|_| "/root".into())
        )
    });
    let bin = PathBuf::from(venv).join("bin").join(name);
    assert!(
        bin.is_file(),
        "nutshell is not installed ({} is missing): run scripts/setup.sh",
        bin.display()
    );
    bin
}

/// Where the mint keeps its books.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Books {
    /// A SQLite file in the mint's directory.
    Sqlite,
    /// A fresh database on the local PostgreSQL.
    Postgres,
}

/// A running nutshell mint.
pub struct Nutshell {
    process: Option<Running>,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// `MINT_PRIVATE_KEY`.
    pub seed: String,
    /// Its database: the SQLite file or the PostgreSQL URL.
    pub db: String,
    pg_name: Option<String>,
    rpc_port: u16,
    port: u16,
    db_setting: String,
    dir: tempfile::TempDir,
}

/// What the mint's database says.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Ledger {
    /// Spent `Y` (hex) → (amount, keyset id).
    pub spent: BTreeMap<String, (u64, String)>,
    /// Issued `B_` (hex) → (`C_` hex, amount, keyset id).
    pub issued: BTreeMap<String, (String, u64, String)>,
    /// Keyset id → (unit, active, rotation counter: the last step of its derivation path).
    pub keysets: BTreeMap<String, (String, bool, u64)>,
    /// Proofs pending (not spent yet).
    pub pending: usize,
}

impl Ledger {
    /// Outstanding (issued minus spent) per (unit, rotation counter).
    pub fn outstanding(&self) -> BTreeMap<(String, u64), i128> {
        let mut out = BTreeMap::new();
        for (unit, _, counter) in self.keysets.values() {
            out.insert((unit.clone(), *counter), 0);
        }
        for (_, amount, keyset) in self.issued.values() {
            let (unit, _, counter) = &self.keysets[keyset];
            *out.entry((unit.clone(), *counter)).or_default() += i128::from(*amount);
        }
        for (amount, keyset) in self.spent.values() {
            let (unit, _, counter) = &self.keysets[keyset];
            *out.entry((unit.clone(), *counter)).or_default() -= i128::from(*amount);
        }
        out
    }
}

impl Nutshell {
    /// Starts a mint with the given seed and books; waits until `/v1/info` answers.
    pub async fn start(seed: &str, books: Books) -> Nutshell {
        let dir = tempfile::tempdir().expect("mint directory");
        let port = free_port();
        let rpc_port = free_port();
        let (db_setting, db, pg_name) = match books {
            Books::Sqlite => {
                let d = dir.path().join("db");
                let file = d.join("mint.sqlite3").display().to_string();
                (d.display().to_string(), file, None)
            }
            Books::Postgres => {
                let name = format!("mw_nutshell_{}", uuid::Uuid::new_v4().simple());
                let server = mintwatch_testkit::server_url();
                let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&format!(
                    "{server}/postgres"
                ))
                .await
                .expect("PostgreSQL on 127.0.0.1:5432");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await
                    .expect("create the mint's database");
                let url = format!("{server}/{name}");
                (url.clone(), url, Some(name))
            }
        };
        let mut nutshell = Nutshell {
            process: None,
            url: format!("http://127.0.0.1:{port}"),
            seed: seed.to_string(),
            db,
            pg_name,
            rpc_port,
            port,
            db_setting,
            dir,
        };
        nutshell.spawn().await;
        nutshell
    }

    /// Stops the mint, runs `between` (on its database, say), and starts it again on the same
    /// port and books.
    pub async fn restart_with<F, Fut>(mut self, between: F) -> Nutshell
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        if let Some(mut p) = self.process.take() {
            p.terminate(Duration::from_secs(10));
        }
        between().await;
        self.spawn().await;
        self
    }

    async fn spawn(&mut self) {
        let (port, db_setting) = (self.port, self.db_setting.clone());
        let mut cmd = Command::new(venv_bin("mint"));
        cmd.current_dir(self.dir.path())
            .env("MINT_PRIVATE_KEY", &self.seed)
            .env("MINT_BACKEND_BOLT11_SAT", "FakeWallet")
            .env("MINT_LISTEN_HOST", "127.0.0.1")
            .env("MINT_LISTEN_PORT", port.to_string())
            .env("MINT_DATABASE", &db_setting)
            .env("MINT_RPC_SERVER_ENABLE", "true")
            .env("MINT_RPC_SERVER_MUTUAL_TLS", "false")
            .env("MINT_RPC_SERVER_ADDR", "127.0.0.1")
            .env("MINT_RPC_SERVER_PORT", self.rpc_port.to_string())
            // The tests drive hundreds of requests a minute from one address. (Incoming payments
            // keep their 3 s delay: a melt pays an invoice of one of the mint's own quotes,
            // which must still be unpaid.)
            .env("MINT_RATE_LIMIT", "false")
            .env("FAKEWALLET_DELAY_OUTGOING_PAYMENT", "0")
            .env("MINT_QUOTE_BACKEND_CHECK_RATE_LIMIT", "0")
            .env("DEBUG", "false")
            // Its log, with uvicorn's access lines (`<client ip:port> - "<verb> <path> …"`).
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.dir.path().join("mint.log"))
                    .expect("mint log"),
            );
        self.process = Some(Running::spawn("nutshell mint", cmd));
        wait_for_info(
            &self.url,
            "nutshell",
            Duration::from_secs(120),
            self.process.as_ref(),
        )
        .await;
    }

    /// The access lines of the mint's log so far: `(client address, "<verb> <path>")`.
    pub fn access_log(&self) -> Vec<(String, String)> {
        let text = std::fs::read_to_string(self.dir.path().join("mint.log")).unwrap_or_default();
        text.lines()
            .filter_map(|line| {
                // `… | INFO | 127.0.0.2:40312 - "POST /v1/swap HTTP/1.1" 200`
                let (head, request) = line.split_once(" - \"")?;
                let client = head.rsplit(' ').next()?.rsplit_once(':')?.0.to_string();
                let call = request.split(" HTTP/").next()?.to_string();
                Some((client, call))
            })
            .collect()
    }

    /// The mint's `/v1/info` as JSON.
    pub async fn info(&self) -> serde_json::Value {
        reqwest::get(format!("{}/v1/info", self.url))
            .await
            .expect("GET /v1/info")
            .json()
            .await
            .expect("info JSON")
    }

    /// Runs the nutshell CLI wallet `wallet` with `args` (`-y`: no questions); panics with its
    /// output if it fails. Returns its standard output.
    pub fn cli(&self, wallet: &str, args: &[&str]) -> String {
        let out = Command::new(venv_bin("cashu"))
            .current_dir(self.dir.path())
            .env("CASHU_DIR", self.dir.path().join("wallets"))
            .env("MINT_URL", &self.url)
            .env("DEBUG", "false")
            .args(["-y", "-w", wallet])
            .args(args)
            .output()
            .expect("run the cashu CLI");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success() && !stdout.contains("Exception") && !stdout.contains("Error"),
            "cashu {args:?} failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// `cashu send <amount>` in `from`, `cashu receive` in `to`: a swap at the mint for each.
    pub fn send_receive(&self, from: &str, to: &str, amount: u64) {
        let out = self.cli(from, &["send", &amount.to_string()]);
        let token = out
            .lines()
            .find(|l| l.starts_with("cashu"))
            .unwrap_or_else(|| panic!("no token in: {out}"));
        self.cli(to, &["receive", token]);
    }

    /// Pays `amount` over Lightning from `wallet` (a melt), to an invoice of the mint itself.
    pub async fn melt(&self, wallet: &str, amount: u64) {
        let quote: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/v1/mint/quote/bolt11", self.url))
            .json(&serde_json::json!({"amount": amount, "unit": "sat"}))
            .send()
            .await
            .expect("invoice")
            .json()
            .await
            .expect("invoice JSON");
        let invoice = quote["request"].as_str().expect("bolt11").to_string();
        self.cli(wallet, &["pay", &invoice]);
    }

    /// Rotates the keyset of `unit` through the management RPC (`mint-cli next-keyset`): a new
    /// keyset is active, the old one deactivated.
    pub fn rotate(&self, unit: &str) {
        let out = Command::new(venv_bin("mint-cli"))
            .args(["-i", "-h", "127.0.0.1", "-p", &self.rpc_port.to_string()])
            .args(["next-keyset", unit])
            .output()
            .expect("run mint-cli");
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && text.contains("New keyset"),
            "rotation failed: {text}"
        );
    }

    /// Reads the mint's own database.
    pub async fn ledger(&self) -> Ledger {
        sqlx::any::install_default_drivers();
        let url = if self.pg_name.is_some() {
            self.db.clone()
        } else {
            format!("sqlite://{}?mode=ro", self.db)
        };
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .expect("open the mint's database");
        let mut ledger = Ledger::default();
        for r in sqlx::query(
            "SELECT y, CAST(amount AS BIGINT) AS amount, id FROM proofs_used WHERE y IS NOT NULL",
        )
        .fetch_all(&pool)
        .await
        .expect("proofs_used")
        {
            let amount: i64 = r.get("amount");
            ledger
                .spent
                .insert(r.get("y"), (amount as u64, r.get("id")));
        }
        for r in sqlx::query(
            "SELECT b_, c_, CAST(amount AS BIGINT) AS amount, id FROM promises
             WHERE c_ IS NOT NULL",
        )
        .fetch_all(&pool)
        .await
        .expect("promises")
        {
            let amount: i64 = r.get("amount");
            ledger
                .issued
                .insert(r.get("b_"), (r.get("c_"), amount as u64, r.get("id")));
        }
        for r in sqlx::query(
            "SELECT id, unit, CAST(CASE WHEN active THEN 1 ELSE 0 END AS BIGINT) AS active,
                    derivation_path FROM keysets",
        )
        .fetch_all(&pool)
        .await
        .expect("keysets")
        {
            let path: String = r.get("derivation_path");
            let counter = path
                .rsplit('/')
                .next()
                .and_then(|s| s.trim_end_matches('\'').parse().ok())
                .expect("a derivation path ending in a number");
            let active: i64 = r.get("active");
            ledger
                .keysets
                .insert(r.get("id"), (r.get("unit"), active != 0, counter));
        }
        let pending: i64 =
            sqlx::query_scalar("SELECT CAST(count(*) AS BIGINT) FROM proofs_pending")
                .fetch_one(&pool)
                .await
                .expect("proofs_pending");
        ledger.pending = pending as usize;
        pool.close().await;
        ledger
    }

    /// Stops the mint and drops its PostgreSQL database, if any.
    pub async fn stop(mut self) {
        if let Some(mut p) = self.process.take() {
            p.terminate(Duration::from_secs(10));
        }
        if let Some(name) = self.pg_name.take() {
            let server = mintwatch_testkit::server_url();
            if let Ok(mut admin) =
                <sqlx::PgConnection as sqlx::Connection>::connect(&format!("{server}/postgres"))
                    .await
            {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await;
            }
        }
    }
}

impl MintUnderTest for Nutshell {
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
