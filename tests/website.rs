//! The website in a real browser: Debian's `chromium` driven by `chromedriver` over WebDriver
//! (fantoccini), against a real server over the simulator's corpus indexed by the real indexer
//! into a fresh PostgreSQL. It searches the directory, opens every misbehaving mint and checks
//! each finding against the simulator's truth, downloads each finding's evidence in the browser and
//! re-verifies the events here (ids, signatures, and the finding re-derived from them), opens an
//! honest mint and reads its charts, looks up a burnt `Y` and an unknown one by pasting a cashu
//! token (its `Y`s derived in the browser by the vendored `@noble` bundle, checked first against
//! the published hash_to_curve vectors), shows a `<script>` review as text, runs axe-core in every
//! page, and saves a screenshot of each page under `target/tmp/website/`.

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use fantoccini::{Client, ClientBuilder, Locator};
use nostr_sdk::prelude::{EventBuilder, Keys, Kind, Tag, Timestamp};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use common::{free_port, Running};
use mintwatch_api::read::check_spent;
use mintwatch_api::web::SiteInfo;
use mintwatch_api::{metrics_recorder, ApiState};
use mintwatch_protocol::output::{FindingRecheck, ProtocolRecheck, Recheck};
use mintwatch_protocol::{kinds, EventId, FindingKind, MintKey, Point, SignedEvent};
use mintwatch_sim::{MintRole, Simulation};
use mintwatch_testkit::{index_simulation, small_simulation, TestDb, TestRelay, AS_OF};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const AXE: &str = include_str!("website/axe-4.14.1.min.js");
const VECTORS: &str = include_str!("../protocol/tests/vectors/nut00-hash-to-curve.json");
const HOSTILE_REVIEW: &str =
    "<script>window.__pwned = 1</script> <img src=x onerror=\"window.__pwned = 2\"> terrible mint";

/// chromedriver on a free port and a headless Chromium session through it.
async fn browser() -> (Running, Client) {
    for bin in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            std::path::Path::new(bin).exists(),
            "{bin} is missing: scripts/setup.sh installs Debian's chromium and chromium-driver"
        );
    }
    let port = free_port();
    let mut command = Command::new(CHROMEDRIVER);
    command.arg(format!("--port={port}"));
    let driver = Running::spawn("chromedriver", command);
    driver.wait_for_line(Duration::from_secs(30), |l| {
        l.contains("started successfully")
    });
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,2000", "--lang=en-US"],
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session through chromedriver");
    (driver, client)
}

/// Where the screenshots go.
fn output_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("website");
    std::fs::create_dir_all(&dir).expect("output folder");
    dir
}

async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let path = output_dir().join(format!("{name}.png"));
    std::fs::write(&path, png).expect("write screenshot");
    println!("screenshot: {}", path.display());
}

/// Runs axe-core (WCAG 2 A and AA rules) in the current page; panics listing the violations.
async fn accessible(c: &Client, page: &str) {
    let script = format!(
        "{AXE}\n;return axe.run(document, {{runOnly: {{type: 'tag', values: ['wcag2a', 'wcag2aa']}}}})\
         .then(r => ({{ passes: r.passes.map(p => p.id), violations: r.violations.map(v => \
         v.id + ': ' + v.help + ' @ ' + v.nodes.map(n => n.target.join(' ')).slice(0, 5).join(' | ')) }}));"
    );
    let result = c.execute(&script, vec![]).await.expect("axe runs");
    let violations = result["violations"].as_array().expect("violations");
    assert!(
        violations.is_empty(),
        "{page}: accessibility violations: {violations:#?}"
    );
    let passes: Vec<&str> = result["passes"]
        .as_array()
        .expect("passes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(!passes.is_empty(), "{page}: axe checked nothing");
}

/// The visible text of the first element matching `css`.
async fn text(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .expect("text")
}

async fn goto(c: &Client, url: &str) {
    c.goto(url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
    c.wait()
        .for_element(Locator::Css("main"))
        .await
        .unwrap_or_else(|e| panic!("{url}: no main: {e}"));
}

/// A 38000 review of `mint` whose text is markup: it must show as text and never run.
fn hostile_review(mint: &MintKey) -> SignedEvent {
    let keys = Keys::generate();
    let tags = [
        Tag::parse(["d", &mint.to_hex()]).expect("tag"),
        Tag::parse(["k", "38172"]).expect("tag"),
        Tag::parse(["rating", "1"]).expect("tag"),
    ];
    let e = EventBuilder::new(Kind::Custom(kinds::RECOMMENDATION), HOSTILE_REVIEW)
        .tags(tags)
        .custom_created_at(Timestamp::from(AS_OF - 3_600))
        .sign_with_keys(&keys)
        .expect("sign");
    SignedEvent::from(&e)
}

/// A V3 cashu token (`cashuA…`) holding one proof per secret.
fn token_v3(mint_url: &str, secrets: &[&str]) -> String {
    let proofs: Vec<Value> = secrets
        .iter()
        .map(|s| {
            json!({"amount": 8, "id": "009a1f293253e41e", "secret": s,
                   "C": "02698c4e2b5f9534cd0687d87513c759790cf829aa5739184a3e3735471fbda904"})
        })
        .collect();
    let body = json!({"token": [{"mint": mint_url, "proofs": proofs}], "unit": "sat"});
    format!("cashuA{}", URL_SAFE_NO_PAD.encode(body.to_string()))
}

/// Events of an evidence file, each verified, and (for a standing finding) the finding re-derived
/// from them. A resolved finding's stored totals are those of when it was found, so only its
/// events are checked.
fn verify_evidence(file: &Value) -> (FindingKind, BTreeSet<EventId>) {
    let kind: FindingKind = file["finding"]
        .as_str()
        .expect("finding")
        .parse()
        .expect("kind");
    let mint = MintKey::parse(file["mint"].as_str().expect("mint")).expect("mint key");
    let y = file["Y"].as_str().map(|y| Point::parse(y).expect("Y"));
    let events: Vec<SignedEvent> = file["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| SignedEvent::from_value(e).expect("a signed event"))
        .collect();
    for e in &events {
        e.verify().expect("the event's id and signature verify");
    }
    if file["resolved"] == json!(true) {
        return (kind, events.iter().map(|e| e.id).collect());
    }
    let outcome = ProtocolRecheck
        .recheck(kind, &mint, y.as_ref(), &events, file.get("detail"))
        .unwrap_or_else(|why| panic!("{kind}: the events do not show the finding: {why}"));
    assert_eq!(outcome, Recheck::Confirmed);
    (kind, events.iter().map(|e| e.id).collect())
}

/// The expected findings of `mint`: (kind, proving events).
fn expected_of(sim: &Simulation, mint: &MintKey) -> BTreeSet<(FindingKind, BTreeSet<EventId>)> {
    sim.expected
        .iter()
        .filter(|f| f.mint == *mint)
        .map(|f| (f.kind, f.events.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_website_in_a_real_browser() {
    let db = TestDb::new().await;
    let sim = small_simulation(31);
    let honest = sim
        .stats
        .values()
        .find(|m| m.role == MintRole::Honest && !m.groups.is_empty())
        .expect("an honest mint with burns");
    let relay = TestRelay::start(None).await;
    relay.store(&sim.events).await;
    relay.store(&[hostile_review(&honest.mint)]).await;
    index_simulation(&db, &[&relay], &sim).await;

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let indexer_key = Keys::generate().public_key().to_hex();
    let state = ApiState::new(db.store.clone(), metrics_recorder().expect("recorder")).with_site(
        SiteInfo {
            indexer_key: Some(indexer_key.clone()),
            relays: vec![relay.url.clone()],
        },
    );
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(mintwatch_api::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    let (_driver, c) = browser().await;

    // The directory lists every simulated mint that was indexed; a search finds one by name.
    goto(&c, &format!("{base}/")).await;
    let listed = c
        .find_all(Locator::Css("ol.mints > li"))
        .await
        .expect("cards");
    assert!(listed.len() >= 6, "{} mints listed", listed.len());
    accessible(&c, "directory").await;
    screenshot(&c, "directory").await;
    let misbehaving: Vec<_> = sim
        .stats
        .values()
        .filter(|m| m.role.expects_findings())
        .collect();
    assert!(!misbehaving.is_empty());
    let target = misbehaving[0];
    let q = c.find(Locator::Id("q")).await.expect("search box");
    q.send_keys(&target.name).await.expect("type");
    c.find(Locator::Css("form.search button[type=submit]"))
        .await
        .expect("search button")
        .click()
        .await
        .expect("search");
    c.wait()
        .for_element(Locator::Css("ol.mints h2 a"))
        .await
        .expect("results");
    let first = c
        .find(Locator::Css("ol.mints h2 a"))
        .await
        .expect("a result");
    assert_eq!(
        first.text().await.expect("name"),
        target.name,
        "the searched mint comes first"
    );
    first.click().await.expect("open the mint");
    c.wait()
        .for_element(Locator::Id("findings"))
        .await
        .expect("mint page");
    assert!(c
        .current_url()
        .await
        .expect("url")
        .path()
        .ends_with(&target.mint.to_hex()));

    // Every misbehaving mint: each expected finding shown, its evidence downloaded in the browser
    // and verified here.
    let mut evidence_checked = 0;
    for (i, m) in misbehaving.iter().enumerate() {
        goto(&c, &format!("{base}/mints/{}", m.mint.to_hex())).await;
        let cards = c
            .find_all(Locator::Css("article.finding"))
            .await
            .expect("findings");
        let want = expected_of(&sim, &m.mint);
        let mut seen = BTreeSet::new();
        for card in &cards {
            let link = card
                .find(Locator::Css("a.evidence"))
                .await
                .expect("an evidence link");
            let href = link.attr("href").await.expect("href").expect("an href");
            let body = c
                .execute(
                    "return fetch(arguments[0]).then(r => r.ok ? r.text() : 'status ' + r.status);",
                    vec![json!(href)],
                )
                .await
                .expect("fetch the evidence");
            let file: Value = serde_json::from_str(body.as_str().expect("text"))
                .unwrap_or_else(|e| panic!("{href}: {e}: {body}"));
            let (kind, ids) = verify_evidence(&file);
            let heading = card
                .find(Locator::Css("h3"))
                .await
                .expect("h3")
                .text()
                .await
                .expect("text");
            assert!(
                heading
                    .to_lowercase()
                    .starts_with(&kind.as_str().replace('-', " ")),
                "{heading} for {kind}"
            );
            // Resolved findings are shown (and their evidence verified) too; the simulator's
            // truth lists the standing ones.
            let class = card.attr("class").await.expect("class").unwrap_or_default();
            if !class.split_whitespace().any(|c| c == "resolved") {
                seen.insert((kind, ids));
            }
            evidence_checked += 1;
        }
        assert_eq!(seen, want, "findings of {} ({:?})", m.name, m.role);
        if i == 0 {
            accessible(&c, "misbehaving mint").await;
            screenshot(&c, "mint-misbehaving").await;
        }
    }
    assert!(evidence_checked >= misbehaving.len());

    // An honest mint: charts per unit, each an SVG with a title; the hostile review is text.
    goto(&c, &format!("{base}/mints/{}", honest.mint.to_hex())).await;
    assert!(text(&c, "#findings").await.contains("Findings"));
    let standing = c
        .find_all(Locator::Css("article.finding:not(.resolved)"))
        .await
        .expect("findings");
    assert!(standing.is_empty(), "an honest mint shows findings");
    let charts = c
        .find_all(Locator::Css("figure.chart svg[role=img]"))
        .await
        .expect("charts");
    let units: BTreeSet<_> = honest.groups.keys().map(|(u, _)| u.clone()).collect();
    assert_eq!(charts.len(), 2 * units.len(), "two charts per unit");
    for chart in &charts {
        let title = chart
            .find(Locator::Css("title"))
            .await
            .expect("a title")
            .prop("textContent")
            .await
            .expect("text")
            .unwrap_or_default();
        assert!(
            title.contains("per day") || title.contains("over time"),
            "{title}"
        );
        let lines = chart
            .find_all(Locator::Css("polyline"))
            .await
            .expect("lines");
        assert!(!lines.is_empty(), "{title}: nothing drawn");
    }
    let mut review = String::new();
    for r in c
        .find_all(Locator::Css(".review-text"))
        .await
        .expect("reviews")
    {
        let t = r.text().await.expect("text");
        if t.contains("terrible mint") {
            review = t;
        }
    }
    assert!(
        review.contains("<script>window.__pwned = 1</script>"),
        "{review}"
    );
    assert!(review.contains("<img src=x"), "{review}");
    let pwned = c
        .execute("return typeof window.__pwned;", vec![])
        .await
        .expect("script");
    assert_eq!(pwned, json!("undefined"), "the review's markup ran");
    let injected = c
        .find_all(Locator::Css("main script, main img"))
        .await
        .expect("query");
    assert!(injected.is_empty(), "the review's markup became elements");
    accessible(&c, "honest mint").await;
    screenshot(&c, "mint-honest").await;

    // Spent lookup: the vendored bundle against the published vectors, then a pasted token.
    goto(&c, &format!("{base}/spent")).await;
    c.wait()
        .for_element(Locator::Css("#derive:not([hidden])"))
        .await
        .expect("the script enabled the token box");
    let vectors: Value = serde_json::from_str(VECTORS).expect("vectors");
    for v in vectors["hash_to_curve"].as_array().expect("vectors") {
        let got = c
            .execute(
                "const h = arguments[0]; const b = new Uint8Array(h.length / 2);\
                 for (let i = 0; i < b.length; i++) b[i] = parseInt(h.substr(2 * i, 2), 16);\
                 return window.mintwatchSpent.hashToCurve(b);",
                vec![v["message_hex"].clone()],
            )
            .await
            .expect("hash_to_curve in the browser");
        assert_eq!(got, v["point"], "hash_to_curve({})", v["message_hex"]);
    }
    let ((unit, epoch), totals) = honest.groups.iter().next().expect("a group");
    let tokens: Vec<_> = (0..totals.mint_count + 3)
        .map(|i| {
            sim.wallet
                .token(&honest.mint, unit, *epoch, i)
                .expect("token")
        })
        .collect();
    let ys: Vec<Point> = tokens.iter().map(|t| t.y).collect();
    let answers = check_spent(&db.store, &ys).await.expect("check_spent");
    let burnt = tokens
        .iter()
        .zip(&answers)
        .find(|(_, a)| !a.burnt.is_empty())
        .map(|(t, _)| t)
        .expect("a burnt token");
    let unknown = tokens.last().expect("a token never issued");
    assert!(answers.last().expect("answer").burnt.is_empty());
    let token = token_v3(&honest.url.to_string(), &[&burnt.secret, &unknown.secret]);
    let token_box = c.find(Locator::Id("token")).await.expect("token box");
    assert_eq!(
        token_box.attr("name").await.expect("attr"),
        None,
        "the token box is never sent"
    );
    token_box.send_keys(&token).await.expect("paste");
    c.find(Locator::Id("derive"))
        .await
        .expect("button")
        .click()
        .await
        .expect("derive");
    let derived = c
        .find(Locator::Id("ys"))
        .await
        .expect("ys")
        .prop("value")
        .await
        .expect("value")
        .unwrap_or_default();
    let derived: Vec<&str> = derived.split_whitespace().collect();
    assert_eq!(derived, vec![burnt.y.to_hex(), unknown.y.to_hex()]);
    let cleared = token_box
        .prop("value")
        .await
        .expect("value")
        .unwrap_or_default();
    assert!(cleared.is_empty(), "the token is cleared");
    c.find(Locator::Css("form button[type=submit]"))
        .await
        .expect("submit")
        .click()
        .await
        .expect("look up");
    c.wait()
        .for_element(Locator::Id("answers"))
        .await
        .expect("answers");
    let cards = c
        .find_all(Locator::Css("article.spent-answer"))
        .await
        .expect("answers");
    assert_eq!(cards.len(), 2);
    let first = cards[0].text().await.expect("text");
    assert!(
        first.contains(&burnt.y.to_hex()) && first.contains("Spent."),
        "{first}"
    );
    let by = cards[0]
        .find(Locator::Css("a[href^='/mints/']"))
        .await
        .expect("the burning mint")
        .attr("href")
        .await
        .expect("href")
        .expect("href");
    assert_eq!(by, format!("/mints/{}", honest.mint.to_hex()));
    let second = cards[1].text().await.expect("text");
    assert!(
        second.contains(&unknown.y.to_hex()) && second.contains("Not known to be spent"),
        "{second}"
    );
    accessible(&c, "spent lookup").await;
    screenshot(&c, "spent").await;

    // Findings: every stored finding (fewer than a page), each linking its evidence.
    goto(&c, &format!("{base}/findings")).await;
    let listed = c
        .find_all(Locator::Css("article.finding"))
        .await
        .expect("findings");
    let stored = db.count("findings").await as usize;
    assert_eq!(listed.len(), stored.min(50));
    let kinds: BTreeMap<FindingKind, usize> =
        sim.expected.iter().fold(BTreeMap::new(), |mut m, f| {
            *m.entry(f.kind).or_default() += 1;
            m
        });
    let page = text(&c, "main").await.to_lowercase();
    for kind in kinds.keys() {
        assert!(
            page.contains(&kind.as_str().replace('-', " ")),
            "{kind} listed"
        );
    }
    accessible(&c, "findings").await;
    screenshot(&c, "findings").await;

    // About: the formula and the indexer's key and relay.
    goto(&c, &format!("{base}/about")).await;
    let about = text(&c, "main").await;
    assert!(
        about.contains(&indexer_key) && about.contains(&relay.url),
        "{about}"
    );
    assert!(about.contains("rank = min(cap"));
    accessible(&c, "about").await;
    screenshot(&c, "about").await;

    // A phone-sized window: the directory still fits (no horizontal scrolling).
    c.set_window_size(390, 844).await.expect("resize");
    goto(&c, &format!("{base}/")).await;
    let overflow = c
        .execute(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
            vec![],
        )
        .await
        .expect("widths");
    assert!(
        overflow.as_i64().expect("number") <= 0,
        "horizontal overflow {overflow}"
    );
    screenshot(&c, "directory-phone").await;

    c.close().await.expect("close the browser");
    let _ = stop.send(());
    server.await.expect("server task").expect("server ends");
    db.drop().await;
}
