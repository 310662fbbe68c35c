//! What the gateway's end-to-end tests share: the gateway as a child process (so it can be
//! killed with SIGKILL), what a relay holds of a mint, and a mintwatch indexer's view of it.

#![allow(dead_code)]

pub mod cdk;
pub mod cdk_mintd;
pub mod nmc_client;
pub mod nutshell;
pub mod shell;
pub mod wallet;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use mintwatch_protocol::broadcast::{CashuData, FinEpoch, GroupContents};
use mintwatch_protocol::{MintKey, SignedEvent};
use mintwatch_testkit::{indexer_config, wait_for, TestDb};
use nostr_sdk::prelude::{Filter, JsonUtil, Kind, PublicKey};

use crate::common::{free_port, Running};
use nutshell::Ledger;

/// A real mint under test, whichever software runs it.
pub trait MintUnderTest {
    /// Its HTTP API, `http://127.0.0.1:<port>`.
    fn url(&self) -> &str;
    /// Its database: a SQLite file or a PostgreSQL URL (what `--mint-db` takes).
    fn db(&self) -> &str;
    /// The secret its key derives from (`sha256` of it, as nutshell's `MINT_PRIVATE_KEY`).
    fn seed(&self) -> &str;
}

/// Waits until the mint `name` at `url` answers `/v1/info`, at most `within`; panics with its
/// output (`process`) if it does not.
pub async fn wait_for_info(url: &str, name: &str, within: Duration, process: Option<&Running>) {
    let info = format!("{url}/v1/info");
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Ok(r) = reqwest::get(&info).await {
            if r.status().is_success() {
                return;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name} did not answer {info} within {within:?}:\n{}",
            process.map(Running::output).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A gateway process beside a mint, with its files.
pub struct Gateway {
    /// The process (SIGKILL on drop).
    pub process: Running,
    /// Where `/metrics` and `/readyz` listen.
    pub listen: String,
}

/// Writes the mint's key file with `mintwatch gateway key --from-nutshell-seed` and returns its
/// path.
pub fn key_file(dir: &Path, seed: &str) -> PathBuf {
    let path = dir.join("mint.key");
    let out = Command::new(env!("CARGO_BIN_EXE_mintwatch"))
        .args(["gateway", "key", "--from-nutshell-seed", "--key-file"])
        .arg(&path)
        .env("MINT_PRIVATE_KEY", seed)
        .output()
        .expect("run mintwatch gateway key");
    assert!(
        out.status.success(),
        "gateway key: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

impl Gateway {
    /// Starts `mintwatch gateway` for `mint`, publishing to `relays`, with its state in `dir`.
    pub fn start(
        mint: &impl MintUnderTest,
        relays: &[&str],
        dir: &Path,
        extra: &[&str],
    ) -> Gateway {
        let listen = format!("127.0.0.1:{}", free_port());
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mintwatch"));
        cmd.args(["gateway", "--mint-url", mint.url(), "--mint-db", mint.db()])
            .arg("--key-file")
            .arg(dir.join("mint.key"))
            .arg("--state")
            .arg(dir.join("gateway.sqlite3"))
            .args(["--listen", &listen, "--network", "regtest"])
            .args(extra)
            .env("RUST_LOG", "info,mintwatch_gateway=debug")
            .env_remove("MINTWATCH_GATEWAY_CONFIG");
        for r in relays {
            cmd.args(["--relay", r]);
        }
        // Tests publish each second unless they say otherwise.
        if !extra.contains(&"--batch-secs") {
            cmd.args(["--batch-secs", "1"]);
        }
        Gateway {
            process: Running::spawn("mintwatch gateway", cmd),
            listen,
        }
    }

    /// Waits (30 s at most) for `/readyz` to pass.
    pub async fn wait_ready(&self) {
        let ready = wait_for(Duration::from_secs(30), || async {
            reqwest::get(format!("http://{}/readyz", self.listen))
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await;
        assert!(ready, "/readyz never passed:\n{}", self.process.output());
    }

    /// The gateway's `/metrics`.
    pub async fn metrics(&self) -> String {
        match reqwest::get(format!("http://{}/metrics", self.listen)).await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// The sum of a metric's samples (all labels).
    pub async fn metric(&self, name: &str) -> f64 {
        metric_sum(&self.metrics().await, name)
    }
}

/// The sum of the samples of `name` in a Prometheus text exposition.
pub fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.starts_with(name) && matches!(l.as_bytes().get(name.len()), Some(b'{') | Some(b' '))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// What a relay holds of one mint, parsed as mintwatch parses it.
#[derive(Debug, Default)]
pub struct Published {
    /// Every `Y` of every BURN entry, with how often it appears.
    pub ys: BTreeMap<String, usize>,
    /// Every `B_` of every MINT entry → (`C_`, amount, epoch, how often).
    pub b_s: BTreeMap<String, (String, u64, u64, usize)>,
    /// `Y` → (amount, epoch).
    pub burns: BTreeMap<String, (u64, u64)>,
    /// 1337s: (unit, epoch) → outstanding balance.
    pub closed: BTreeMap<(String, u64), u64>,
    /// 4919 events.
    pub batches: usize,
    /// Largest event JSON seen, bytes.
    pub largest_event: usize,
    /// Every event id on the relay signed by the mint that an indexer reads (all but the NMC
    /// service info, 17338).
    pub ids: Vec<String>,
}

impl Published {
    /// `Y`s published more than once.
    pub fn repeated_ys(&self) -> Vec<&String> {
        self.ys
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(y, _)| y)
            .collect()
    }
}

/// Reads every event of `mint` from the relay at `url`.
pub async fn published(url: &str, mint: &PublicKey) -> Published {
    let client = mintwatch_testkit::connected_client(url).await;
    let events = client
        .fetch_events(
            Filter::new().author(*mint).limit(100_000),
            Duration::from_secs(20),
        )
        .await
        .expect("fetch the mint's events");
    client.disconnect().await;
    let mut p = Published::default();
    for e in events.iter() {
        let json = e.as_json();
        p.largest_event = p.largest_event.max(json.len());
        if e.kind != Kind::Custom(mintwatch_protocol::kinds::NMC_INFO) {
            p.ids.push(e.id.to_hex());
        }
        let signed = SignedEvent::from_json(&json).expect("a valid event");
        if e.kind == Kind::Custom(4919) {
            p.batches += 1;
            let data = CashuData::parse(&signed).expect("a 4919 mintwatch parses");
            for g in data.groups {
                match g.contents {
                    GroupContents::Burn(entries) => {
                        for b in entries {
                            *p.ys.entry(b.y.to_hex()).or_default() += 1;
                            p.burns
                                .insert(b.y.to_hex(), (b.amount.get(), g.epoch.get()));
                        }
                    }
                    GroupContents::Mint(entries) => {
                        for m in entries {
                            let slot = p.b_s.entry(m.b_.to_hex()).or_insert((
                                m.c_.to_hex(),
                                m.amount.get(),
                                g.epoch.get(),
                                0,
                            ));
                            slot.3 += 1;
                        }
                    }
                }
            }
        } else if e.kind == Kind::Custom(1337) {
            let fin = FinEpoch::parse(&signed).expect("a 1337 mintwatch parses");
            p.closed.insert(
                (fin.unit.as_str().to_string(), fin.epoch.get()),
                fin.outstanding_balance,
            );
        }
    }
    p
}

/// Waits until the relay holds every spent `Y` and issued `B_` of the ledger (or the timeout
/// passes) and returns what it holds.
pub async fn wait_published(
    url: &str,
    mint: &PublicKey,
    ledger: &Ledger,
    timeout: Duration,
) -> Published {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let p = published(url, mint).await;
        let complete = ledger.spent.keys().all(|y| p.ys.contains_key(y))
            && ledger.issued.keys().all(|b| p.b_s.contains_key(b));
        if complete || tokio::time::Instant::now() >= deadline {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Asserts the relay holds exactly the mint's books: each spent `Y` once with its amount and
/// epoch (the keyset's rotation counter), each issued signature once, nothing else; and that
/// the mint says every published `Y` is spent (NUT-07).
pub async fn assert_exactly_the_books(p: &Published, ledger: &Ledger, mint: &impl MintUnderTest) {
    assert!(
        p.repeated_ys().is_empty(),
        "{} Ys published twice, among them {:?}",
        p.repeated_ys().len(),
        &p.repeated_ys()[..p.repeated_ys().len().min(5)]
    );
    let missing: Vec<&String> = ledger
        .spent
        .keys()
        .filter(|y| !p.ys.contains_key(*y))
        .collect();
    assert!(
        missing.is_empty(),
        "{} spent Ys never published, among them {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    let extra: Vec<&String> =
        p.ys.keys()
            .filter(|y| !ledger.spent.contains_key(*y))
            .collect();
    assert!(
        extra.is_empty(),
        "{} published Ys the mint has not spent, among them {:?}",
        extra.len(),
        &extra[..extra.len().min(5)]
    );
    for (y, (amount, keyset)) in &ledger.spent {
        let epoch = ledger.keysets[keyset].2;
        assert_eq!(p.burns[y], (*amount, epoch), "amount and epoch of Y {y}");
    }
    let twice: Vec<&String> = p
        .b_s
        .iter()
        .filter(|(_, v)| v.3 > 1)
        .map(|(b, _)| b)
        .collect();
    assert!(twice.is_empty(), "B_s published twice: {twice:?}");
    assert_eq!(
        p.b_s.keys().collect::<Vec<_>>(),
        ledger.issued.keys().collect::<Vec<_>>(),
        "published B_s differ from the mint's signatures"
    );
    for (b, (c, amount, keyset)) in &ledger.issued {
        let (pc, pa, pe, _) = &p.b_s[b];
        assert_eq!(
            (pc, pa, pe),
            (c, amount, &ledger.keysets[keyset].2),
            "MINT entry of {b}"
        );
    }
    let ys: Vec<String> = p.ys.keys().cloned().collect();
    let states = check_states(mint.url(), &ys).await;
    let not_spent: Vec<(&String, &String)> = states
        .iter()
        .filter(|(_, s)| s.as_str() != "SPENT")
        .collect();
    assert!(
        not_spent.is_empty(),
        "NUT-07 says these are not spent: {not_spent:?}"
    );
    assert_eq!(states.len(), ys.len());
}

/// After traffic with one rotation of the `sat` keyset and nothing left pending: waits until the
/// relay holds the books and asserts it holds exactly them, the rotated-out epoch closed by a
/// 1337 and the active one open.
pub async fn assert_published_after_one_rotation(
    relay: &str,
    mint: &impl MintUnderTest,
    ledger: &Ledger,
) -> Published {
    assert_eq!(ledger.pending, 0, "no proof left pending");
    assert!(
        ledger.spent.len() >= 10 && ledger.issued.len() >= 20,
        "{ledger:?}"
    );
    assert_eq!(ledger.keysets.len(), 2, "one rotation");
    let (pk, _) = mint_key(mint);
    let p = wait_published(relay, &pk, ledger, Duration::from_secs(60)).await;
    assert_exactly_the_books(&p, ledger, mint).await;
    assert!(
        p.closed.contains_key(&("sat".to_string(), 0)),
        "the rotated-out keyset's epoch is closed by a 1337: {:?}",
        p.closed
    );
    assert!(
        !p.closed.contains_key(&("sat".to_string(), 1)),
        "the active epoch stays open"
    );
    p
}

/// The mint key of a nutshell seed.
pub fn mint_key(mint: &impl MintUnderTest) -> (PublicKey, MintKey) {
    let keys = mintwatch_gateway::key::from_nutshell_seed(mint.seed()).expect("key");
    let pk = keys.public_key();
    (pk, MintKey::parse(&pk.to_hex()).expect("mint key"))
}

/// A real nutshell mint (SQLite books) with `mintwatch gateway` beside it on `relays`, ready.
pub struct NutshellBehindGateway {
    /// The mint.
    pub mint: nutshell::Nutshell,
    /// The gateway (killed on drop).
    pub gateway: Gateway,
    /// The mint's nostr key.
    pub key: PublicKey,
    _dir: tempfile::TempDir,
}

impl NutshellBehindGateway {
    /// Starts the mint on `seed`, then the gateway with `extra` flags, and waits for it.
    pub async fn start(seed: &str, relays: &[&str], extra: &[&str]) -> NutshellBehindGateway {
        let mint = nutshell::Nutshell::start(seed, nutshell::Books::Sqlite).await;
        let dir = tempfile::tempdir().expect("dir");
        key_file(dir.path(), seed);
        let gateway = Gateway::start(&mint, relays, dir.path(), extra);
        gateway.wait_ready().await;
        let (key, _) = mint_key(&mint);
        NutshellBehindGateway {
            mint,
            gateway,
            key,
            _dir: dir,
        }
    }

    /// Stops the gateway, then the mint.
    pub async fn stop(self) {
        drop(self.gateway);
        self.mint.stop().await;
    }
}

/// Runs a mintwatch indexer over `relay` until it has stored every event of the mint the relay
/// holds, analyses, and asserts: the mint is `self-signed`, has no finding, its burns are the
/// mint's spent proofs, and its outstanding balance per unit and epoch is the mint's.
pub async fn assert_indexer_agrees(
    relay: &str,
    mint: &impl MintUnderTest,
    ledger: &Ledger,
    p: &Published,
) {
    index_agreeing(relay, mint, ledger, p).await.drop().await;
}

/// [`assert_indexer_agrees`], keeping the index's database (drop it after use).
pub async fn index_agreeing(
    relay: &str,
    mint: &impl MintUnderTest,
    ledger: &Ledger,
    p: &Published,
) -> TestDb {
    let db = TestDb::new().await;
    let now = nostr_sdk::Timestamp::now().as_secs();
    let cfg = indexer_config(vec![relay.to_string()], now);
    let indexer = mintwatch_indexer::service::RunningIndexer::start(db.store.clone(), cfg.clone())
        .await
        .expect("indexer starts");
    let want = p.ids.len() as i64;
    let stored = wait_for(Duration::from_secs(120), || async {
        db.count("events").await >= want
    })
    .await;
    indexer.stop().await.expect("indexer stops");
    assert!(
        stored,
        "the indexer stored {} of {want} events",
        db.count("events").await
    );
    mintwatch_indexer::analyze::Analyzer::new(db.store.clone(), cfg.analyze)
        .refresh_all()
        .await
        .expect("analysis");
    let (_, key) = mint_key(mint);
    let report = mintwatch_store::read::mint_report(&db.store, &key)
        .await
        .expect("read")
        .expect("the mint is indexed");
    assert_eq!(report.identity, "self-signed");
    let open: Vec<(&String, &u64)> = report.findings.iter().filter(|(_, n)| **n > 0).collect();
    assert!(open.is_empty(), "findings against an honest mint: {open:?}");
    let findings: Vec<(String,)> =
        sqlx::query_as("SELECT kind::text FROM findings WHERE NOT resolved")
            .fetch_all(db.store.pool())
            .await
            .expect("findings");
    assert!(
        findings.is_empty(),
        "findings against an honest mint: {findings:?}"
    );
    let stats = &report.totals;
    let outstanding = ledger.outstanding();
    let mut seen = BTreeMap::new();
    for s in stats {
        seen.insert(
            (s.unit.clone(), s.epoch),
            s.mint_amount as i128 - s.burn_amount as i128,
        );
    }
    let expected: BTreeMap<(String, u64), i128> = outstanding
        .into_iter()
        .filter(|(k, v)| *v != 0 || seen.contains_key(k))
        .collect();
    assert_eq!(
        seen, expected,
        "outstanding per (unit, epoch): indexer vs the mint's database"
    );
    let burns: u64 = stats.iter().map(|s| s.burn_count).sum();
    assert_eq!(burns as usize, ledger.spent.len(), "the indexer's burns");
    db
}

/// NUT-07: the state the mint at `url` gives each `Y` (`SPENT`, `UNSPENT`, `PENDING`).
pub async fn check_states(url: &str, ys: &[String]) -> BTreeMap<String, String> {
    let http = reqwest::Client::new();
    let mut states = BTreeMap::new();
    for chunk in ys.chunks(1000) {
        let answer: serde_json::Value = http
            .post(format!("{url}/v1/checkstate"))
            .json(&serde_json::json!({ "Ys": chunk }))
            .send()
            .await
            .expect("checkstate")
            .json()
            .await
            .expect("checkstate JSON");
        for s in answer["states"].as_array().expect("states") {
            states.insert(
                s["Y"].as_str().expect("Y").to_string(),
                s["state"].as_str().expect("state").to_string(),
            );
        }
    }
    states
}

/// A mintwatch indexer following a relay as events arrive, and its query service on that relay
/// (for `check_spent` over nostr).
pub struct FollowingIndex {
    /// The index's database.
    pub db: TestDb,
    /// The query service's key.
    pub key: nostr_sdk::prelude::Keys,
    indexer: mintwatch_indexer::service::RunningIndexer,
    service: mintwatch_api::nostr::NostrHandle,
}

impl FollowingIndex {
    /// Starts both on `relay`, indexing from now on.
    pub async fn start(relay: &str) -> FollowingIndex {
        let db = TestDb::new().await;
        let now = nostr_sdk::Timestamp::now().as_secs();
        let indexer = mintwatch_indexer::service::RunningIndexer::start(
            db.store.clone(),
            indexer_config(vec![relay.to_string()], now),
        )
        .await
        .expect("indexer");
        let key = nostr_sdk::prelude::Keys::generate();
        let service = mintwatch_api::nostr::NostrService::new(vec![relay.to_string()], key.clone())
            .start(db.store.clone())
            .await
            .expect("query service");
        FollowingIndex {
            db,
            key,
            indexer,
            service,
        }
    }

    /// Stops the service and the indexer, and drops the database.
    pub async fn stop(self) {
        self.service.stop().await;
        self.indexer.stop().await.expect("indexer stops");
        self.db.drop().await;
    }
}
