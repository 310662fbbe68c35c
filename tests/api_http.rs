//! The HTTP API end to end: simulated mints publish to a real in-process relay, the real indexer
//! crawls them into a fresh PostgreSQL, and a real server on 127.0.0.1 answers a real HTTP client.
//! Answers are checked against the simulator's truth (who burnt which `Y`, which findings exist,
//! every statistic), not against the database the server reads.
//!
//! Filling the database takes a while, so one test fills it and runs every check over it in turn;
//! the error paths, readiness and CORS need no data and run on their own empty databases.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{header, Client, Method, StatusCode};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use mintwatch::live;
use mintwatch_api::http::{served_routes, MAX_BODY_BYTES, MAX_QUERY_BYTES};
use mintwatch_api::read::{
    check_spent, DirectoryPage, FindingsPage, GlobalStats, LiveStats, MintReport, MintSummary,
    ReviewsPage, SpentEntry, SpentLookups,
};
use mintwatch_api::{metrics_recorder, ApiState};
use mintwatch_protocol::{EventId, FindingKind, IdentityLevel, MintKey, Point, SignedEvent};
use mintwatch_sim::{MintRole, Simulation};
use mintwatch_store::MIGRATOR;
use mintwatch_testkit::{indexed_small_simulation, Indexed, TestDb};

/// A server on 127.0.0.1 over a store; stopped by [`Server::stop`].
struct Server {
    base: String,
    client: Client,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// The server's `/v1/stats` cache (shared with it), to count its recounts.
    stats: mintwatch_api::read::StoreStatsCache,
}

impl Server {
    async fn start(db: &TestDb) -> Server {
        Self::start_with(db, None).await
    }

    async fn start_with(db: &TestDb, live: Option<LiveStats>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let mut state = ApiState::new(db.store.clone(), metrics_recorder().expect("recorder"));
        if let Some(live) = live {
            state = state.with_live_stats(live);
        }
        let stats = state.stats.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(mintwatch_api::serve(listener, state, async move {
            let _ = stopped.await;
        }));
        Server {
            base: format!("http://{addr}"),
            client: Client::new(),
            stop: Some(stop),
            task,
            stats,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let r = self.get(path).await;
        let status = r.status();
        let text = r.text().await.expect("body");
        assert_eq!(status, StatusCode::OK, "GET {path}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: {e}: {text}"))
    }

    async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.expect("server task").expect("server ends");
    }
}

/// Asserts the one error shape, the status and the code; returns the message.
async fn expect_error(r: reqwest::Response, status: StatusCode, code: &str) -> String {
    let got = r.status();
    let ctype = r
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = r.text().await.expect("body");
    assert_eq!(got, status, "body: {text}");
    assert!(
        ctype.starts_with("application/json"),
        "content type {ctype:?}: {text}"
    );
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let obj = v.as_object().expect("an object");
    assert_eq!(obj.len(), 1, "only `error`: {text}");
    let err = v["error"].as_object().expect("error object");
    assert_eq!(err.len(), 2, "only code and message: {text}");
    assert_eq!(err["code"], code, "{text}");
    let message = err["message"].as_str().expect("message").to_string();
    assert!(!message.is_empty());
    message
}

/// Every row of the directory for `query` (without cursor), paging with `limit`.
async fn all_pages(s: &Server, query: &str, limit: u16) -> Vec<MintSummary> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1_000 {
        let mut path = format!("/v1/mints?limit={limit}");
        if !query.is_empty() {
            path.push('&');
            path.push_str(query);
        }
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page: DirectoryPage = s.get_json(&path).await;
        assert!(page.mints.len() <= usize::from(limit));
        out.extend(page.mints);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
    panic!("paging did not end");
}

fn keys(rows: &[MintSummary]) -> BTreeSet<String> {
    rows.iter().map(|m| m.key.clone()).collect()
}

fn assert_unique(rows: &[MintSummary], what: &str) {
    assert_eq!(keys(rows).len(), rows.len(), "{what}: a mint listed twice");
}

/// Whether `rows` are in the order of `sort`.
fn assert_sorted(rows: &[MintSummary], sort: &str) {
    for w in rows.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let ok = match sort {
            "rank" => {
                let (ra, rb) = (a.rank.unwrap_or(-1.0), b.rank.unwrap_or(-1.0));
                ra > rb || (ra == rb && a.key < b.key)
            }
            "reviews" => a.reviews > b.reviews || (a.reviews == b.reviews && a.key < b.key),
            "activity" => {
                a.last_seen > b.last_seen || (a.last_seen == b.last_seen && a.key < b.key)
            }
            "name" => {
                let ka = (
                    a.name.is_none(),
                    a.name.clone().unwrap_or_default().to_lowercase(),
                );
                let kb = (
                    b.name.is_none(),
                    b.name.clone().unwrap_or_default().to_lowercase(),
                );
                // Names compare in the database's collation; only check what collation-free
                // comparisons can tell: named before nameless, and equal names by key.
                (!ka.0 && kb.0) || (ka.0 == kb.0 && (ka.1 != kb.1 || a.key < b.key))
            }
            _ => unreachable!(),
        };
        assert!(ok, "sort {sort}: {a:?} before {b:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_serves_what_the_indexer_found() {
    let Indexed {
        sim,
        relay,
        db,
        run,
        ..
    } = indexed_small_simulation(23).await;
    let live = live::live_stats_of(run.ingest, run.crawl);
    let s = Server::start_with(&db, Some(live)).await;

    directory_pages_every_mint_once_in_every_sort(&s, &db, &sim).await;
    directory_filters(&s, &sim).await;
    reports_match_the_simulation(&s, &sim, &relay.url).await;
    reports_carry_etags(&s, &sim).await;
    findings_pages_carry_verifiable_evidence(&s, &sim).await;
    reviews_page_through(&s, &sim).await;
    spent_lookups_agree_with_the_wallets(&s, &sim).await;
    concurrent_spent_lookups_are_merged_and_exact(&db).await;
    events_are_served_verbatim(&s, &sim).await;
    stats_count_the_store(&s, &db, &sim, &relay.url).await;
    health_and_readiness(&s).await;
    openapi_lists_every_route(&s, &sim).await;
    metrics_count_requests_by_route(&s).await;
    paging_is_stable_under_inserts(&s, &db).await;

    s.stop().await;
    relay.shutdown();
    db.drop().await;
}

async fn directory_pages_every_mint_once_in_every_sort(s: &Server, db: &TestDb, sim: &Simulation) {
    let stored: BTreeSet<String> = sqlx::query_scalar::<_, Vec<u8>>("SELECT key FROM mints")
        .fetch_all(db.store.pool())
        .await
        .expect("keys")
        .into_iter()
        .map(hex::encode)
        .collect();
    for key in sim.stats.keys() {
        assert!(
            stored.contains(&key.to_hex()),
            "simulated mint {key} not stored"
        );
    }
    for sort in ["rank", "reviews", "activity", "name"] {
        for limit in [1u16, 3, 200] {
            let rows = all_pages(s, &format!("sort={sort}"), limit).await;
            assert_unique(&rows, sort);
            assert_eq!(keys(&rows), stored, "sort {sort}, limit {limit}");
            assert_sorted(&rows, sort);
        }
    }
    // The default sort is rank, and the default page holds everything here (< 50 mints).
    let page: DirectoryPage = s.get_json("/v1/mints").await;
    assert!(page.next_cursor.is_none());
    let by_rank = all_pages(s, "sort=rank", 200).await;
    assert_eq!(page.mints, by_rank);
    // Every simulated mint was analysed, so every one has a rank.
    assert!(by_rank
        .iter()
        .all(|m| m.rank.is_some_and(|r| (0.0..=100.0).contains(&r))));
}

async fn directory_filters(s: &Server, sim: &Simulation) {
    let everything = all_pages(s, "", 200).await;
    let subset = |f: &dyn Fn(&MintSummary) -> bool| -> BTreeSet<String> {
        everything
            .iter()
            .filter(|m| f(m))
            .map(|m| m.key.clone())
            .collect()
    };

    // Identity: the simulator's level of each mint, and nothing else.
    for level in ["self-signed", "operator", "mismatch", "unbound"] {
        let rows = all_pages(s, &format!("identity={level}"), 2).await;
        assert!(rows.iter().all(|m| m.identity == level));
        assert_eq!(keys(&rows), subset(&|m| m.identity == level), "{level}");
        for (key, stats) in &sim.stats {
            if stats.identity.as_str() == level {
                assert!(keys(&rows).contains(&key.to_hex()), "{key} not {level}");
            }
        }
    }
    let levels: BTreeSet<&str> = sim.stats.values().map(|s| s.identity.as_str()).collect();
    assert!(
        levels.len() >= 2,
        "the simulation covers several identity levels"
    );

    // Unit: every mint that published entries in it.
    for unit in ["sat", "usd"] {
        let rows = all_pages(s, &format!("unit={unit}"), 4).await;
        for (key, stats) in &sim.stats {
            if stats.groups.keys().any(|(u, _)| u.as_str() == unit) {
                assert!(keys(&rows).contains(&key.to_hex()), "{key} lacks {unit}");
            }
        }
        assert!(!rows.is_empty());
    }
    // The liability-inversion mint burns `eur` it never declared: the filter finds it by its
    // entries; a unit nobody uses finds nothing.
    let eur: BTreeSet<String> = sim
        .stats
        .iter()
        .filter(|(_, m)| m.groups.keys().any(|(u, _)| u.as_str() == "eur"))
        .map(|(k, _)| k.to_hex())
        .collect();
    assert!(!eur.is_empty());
    assert_eq!(keys(&all_pages(s, "unit=eur", 10).await), eur);
    assert!(all_pages(s, "unit=jpy", 10).await.is_empty());
    // Units are case-insensitive (the protocol's Unit lowercases).
    assert_eq!(
        keys(&all_pages(s, "unit=SAT", 50).await),
        keys(&all_pages(s, "unit=sat", 50).await)
    );

    // NUT and network: exactly the mints that declare them.
    let nuts: BTreeSet<u16> = everything.iter().flat_map(|m| m.nuts.clone()).collect();
    assert!(!nuts.is_empty(), "some mint declares NUTs");
    for nut in nuts.iter().chain([9999u16].iter()) {
        let rows = all_pages(s, &format!("nut={nut}"), 3).await;
        assert_eq!(keys(&rows), subset(&|m| m.nuts.contains(nut)), "nut {nut}");
    }
    let networks: BTreeSet<String> = everything
        .iter()
        .filter_map(|m| m.network.clone())
        .collect();
    for network in networks.iter().map(String::as_str).chain(["regtest"]) {
        let rows = all_pages(s, &format!("network={network}"), 3).await;
        assert_eq!(
            keys(&rows),
            subset(&|m| m.network.as_deref() == Some(network)),
            "network {network}"
        );
    }
    if networks.contains("mainnet") {
        // `bitcoin` means mainnet (NIP-87).
        assert_eq!(
            keys(&all_pages(s, "network=bitcoin", 50).await),
            subset(&|m| m.network.as_deref() == Some("mainnet"))
        );
    }

    // Minimum rank.
    let mut ranks: Vec<f32> = everything.iter().filter_map(|m| m.rank).collect();
    ranks.sort_by(f32::total_cmp);
    let threshold = ranks[ranks.len() / 2].floor() as u8;
    let rows = all_pages(s, &format!("min_rank={threshold}"), 3).await;
    assert_eq!(
        keys(&rows),
        subset(&|m| m.rank.is_some_and(|r| r >= f32::from(threshold)))
    );
    assert!(!rows.is_empty() && rows.len() < everything.len() + 1);
    assert!(all_pages(s, "min_rank=100", 50)
        .await
        .iter()
        .all(|m| m.rank == Some(100.0)));

    // Text: by whole name, by a fragment of it, with a typo, by the URL's host (any case); for
    // the mints that published a profile (the others have no name or URL to find).
    let mut searched = 0;
    for stats in sim.stats.values() {
        let key = stats.mint.to_hex();
        let listed = everything.iter().find(|m| m.key == key).expect("listed");
        if listed.name.as_deref() != Some(stats.name.as_str()) {
            continue;
        }
        searched += 1;
        let found = |rows: Vec<MintSummary>| keys(&rows).contains(&key);
        let name = &stats.name;
        assert!(
            found(all_pages(s, &format!("q={}", urlencode(name)), 50).await),
            "q={name}"
        );
        let fragment: String = name
            .chars()
            .skip(2)
            .take(name.len().saturating_sub(4))
            .collect();
        assert!(
            found(all_pages(s, &format!("q={}", urlencode(&fragment)), 50).await),
            "q={fragment}"
        );
        let typo = name.replacen("Mint", "Mimt", 1);
        assert!(
            found(all_pages(s, &format!("q={}", urlencode(&typo)), 50).await),
            "q={typo}"
        );
        if listed.urls.contains(&stats.url.to_string()) {
            let host = stats
                .url
                .as_str()
                .split("://")
                .nth(1)
                .expect("a host")
                .to_string();
            assert!(
                found(all_pages(s, &format!("q={}", urlencode(&host)), 50).await),
                "q={host}"
            );
            let upper = host.to_uppercase();
            assert!(
                found(all_pages(s, &format!("q={}", urlencode(&upper)), 50).await),
                "q={upper}: case-insensitive"
            );
        }
    }
    assert!(searched >= 3, "{searched} mints with a profile");
    assert!(all_pages(s, "q=qqqzzzxxx-no-such-mint", 50)
        .await
        .is_empty());
    // LIKE wildcards are taken literally.
    assert!(all_pages(s, "q=%25%25%25", 50).await.is_empty());
    assert!(all_pages(s, "q=____________", 50).await.is_empty());

    // Text, filters and paging together, in every order: pages of 1 list the rows of one big
    // page in the same order (the search pages each of its branches on its own), and a filter
    // keeps exactly its part of the matches. "sim mimt" is found through near misses only.
    for sort in ["rank", "reviews", "activity", "name"] {
        for text in ["mint", "sim%20mimt"] {
            let query = format!("q={text}&sort={sort}");
            let whole = all_pages(s, &query, 200).await;
            assert!(whole.len() >= 3, "{query}: {} rows", whole.len());
            let order = |rows: &[MintSummary]| -> Vec<String> {
                rows.iter().map(|m| m.key.clone()).collect()
            };
            assert_eq!(
                order(&all_pages(s, &query, 1).await),
                order(&whole),
                "{query}"
            );
            let filtered = all_pages(s, &format!("{query}&identity=self-signed"), 2).await;
            assert_eq!(
                order(&filtered),
                order(
                    &whole
                        .iter()
                        .filter(|m| m.identity == "self-signed")
                        .cloned()
                        .collect::<Vec<_>>()
                ),
                "{query}&identity=self-signed"
            );
        }
    }

    // Filters combine.
    let rows = all_pages(s, "identity=self-signed&unit=sat&sort=name", 2).await;
    assert_eq!(
        keys(&rows),
        &subset(&|m| m.identity == "self-signed") & &keys(&all_pages(s, "unit=sat", 50).await)
    );
    assert_sorted(&rows, "name");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Unresolved findings the simulator expects, by mint and kind.
fn expected_counts(sim: &Simulation) -> BTreeMap<(MintKey, FindingKind), u64> {
    let mut out = BTreeMap::new();
    for f in &sim.expected {
        *out.entry((f.mint, f.kind)).or_default() += 1;
    }
    out
}

async fn reports_match_the_simulation(s: &Server, sim: &Simulation, relay: &str) {
    let expected = expected_counts(sim);
    for (i, (key, stats)) in sim.stats.iter().enumerate() {
        // Both key forms name the same mint.
        let path = if i % 2 == 0 {
            key.to_hex()
        } else {
            stats.pubkey.to_hex()
        };
        let raw: Value = s.get_json(&format!("/v1/mints/{path}")).await;
        for field in [
            "key",
            "identity",
            "rank",
            "rank_components",
            "findings",
            "burns",
            "mints",
            "outstanding",
            "reviews",
            "urls",
            "info",
            "chain",
            "last_seen",
        ] {
            assert!(raw.get(field).is_some(), "report lacks {field}");
        }
        let r: MintReport = serde_json::from_value(raw).expect("report shape");
        assert_eq!(r.key, key.to_hex());
        assert_eq!(r.identity, stats.identity.as_str(), "{key}");
        let rank = r.rank.expect("ranked");
        assert!((0.0..=100.0).contains(&rank));
        assert!(r.rank_components.is_object());

        let names: BTreeSet<&str> = r.findings.keys().map(String::as_str).collect();
        let all: BTreeSet<&str> = FindingKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names, all, "every finding name, zeros included");
        for kind in FindingKind::ALL {
            let want = expected.get(&(*key, kind)).copied().unwrap_or(0);
            assert_eq!(r.findings[kind.as_str()], want, "{key} {kind}");
        }
        if !stats.role.expects_findings() {
            assert!(r.findings.values().all(|n| *n == 0), "honest {key} accused");
        }

        let burns: u64 = stats.groups.values().map(|t| t.burn_count).sum();
        let mints: u64 = stats.groups.values().map(|t| t.mint_count).sum();
        assert_eq!(r.burns, burns, "{key} burns");
        assert_eq!(r.mints, mints, "{key} mints");
        let outstanding: BTreeMap<(String, u64), i128> = r
            .outstanding
            .iter()
            .map(|o| ((o.unit.clone(), o.epoch), o.amount))
            .collect();
        let want: BTreeMap<(String, u64), i128> = stats
            .groups
            .iter()
            .map(|((u, e), t)| ((u.as_str().to_string(), e.get()), t.outstanding()))
            .collect();
        assert_eq!(outstanding, want, "{key} outstanding");

        assert_eq!(r.reviews.count, stats.reviews as u64, "{key} reviews");
        assert_eq!(
            r.reviews.distinct_authors, stats.distinct_reviewers as u64,
            "{key} authors"
        );
        assert_eq!(r.reviews.rated, stats.rated_reviews as u64);
        match (r.reviews.mean_rating, stats.mean_rating) {
            (Some(a), Some(b)) => {
                assert!((a - b).abs() < 1e-9, "{key} mean {a} vs {b}");
                let bayes = r.reviews.bayesian.expect("bayesian with a mean");
                let want = b * ((stats.rated_reviews as f64) + 1.0).log10();
                assert!(
                    (bayes - want).abs() < 1e-9,
                    "{key} bayesian {bayes} vs {want}"
                );
            }
            (None, None) => assert!(r.reviews.bayesian.is_none()),
            other => panic!("{key} mean rating {other:?}"),
        }

        if stats.identity != IdentityLevel::Unbound {
            // Announced or self-described: its profile is known.
            assert!(
                r.urls.contains(&stats.url.to_string()),
                "{key} urls {:?}",
                r.urls
            );
            assert_eq!(r.info.name.as_deref(), Some(stats.name.as_str()), "{key}");
            assert!(!r.announcements.is_empty() || r.info.mint_info.is_some());
        } else {
            assert!(r.urls.is_empty() && r.announcements.is_empty());
        }
        if stats.identity == IdentityLevel::SelfSigned {
            let has_info = r.info.mint_info.is_some() || r.announcements.iter().any(|a| a.by_mint);
            assert!(has_info, "{key}: self-signed by its 11467 or own 38172");
        }
        assert_eq!(r.chain.length, stats.published_4919, "{key} chain length");
        if stats.role == MintRole::Honest {
            assert_eq!(r.chain.head, stats.head.map(|h| h.to_hex()), "{key} head");
            assert_eq!(r.chain.links + r.chain.unlinked_starts, r.chain.length);
        }
        assert!(r.relays.iter().any(|x| x == relay), "{key} relays");
        assert!(r.first_seen <= r.last_seen && r.last_seen > 0);
    }
}

async fn reports_carry_etags(s: &Server, sim: &Simulation) {
    let key = sim.stats.keys().next().expect("a mint").to_hex();
    let url = s.url(&format!("/v1/mints/{key}"));
    let first = s.client.get(&url).send().await.expect("request");
    assert_eq!(first.status(), StatusCode::OK);
    let etag = first
        .headers()
        .get(header::ETAG)
        .expect("an ETag")
        .to_str()
        .expect("ascii")
        .to_string();
    let body = first.bytes().await.expect("body");
    assert!(etag.starts_with('"') && etag.ends_with('"'));

    let again = s.client.get(&url).send().await.expect("request");
    assert_eq!(again.headers()[header::ETAG], etag.as_str(), "stable ETag");
    assert_eq!(again.bytes().await.expect("body"), body, "stable body");

    for given in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"other\", {etag}"),
        "*".into(),
    ] {
        let r = s
            .client
            .get(&url)
            .header(header::IF_NONE_MATCH, &given)
            .send()
            .await
            .expect("request");
        assert_eq!(
            r.status(),
            StatusCode::NOT_MODIFIED,
            "If-None-Match: {given}"
        );
        assert_eq!(r.headers()[header::ETAG], etag.as_str());
        assert!(r.bytes().await.expect("body").is_empty());
    }
    let r = s
        .client
        .get(&url)
        .header(header::IF_NONE_MATCH, "\"stale\"")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK);

    // Different mints, different reports, different tags.
    let other = sim.stats.keys().nth(1).expect("two mints").to_hex();
    let r = s.get(&format!("/v1/mints/{other}")).await;
    assert_ne!(r.headers()[header::ETAG], etag.as_str());
}

async fn fetch_event(s: &Server, id: &str) -> SignedEvent {
    let r = s.get(&format!("/v1/events/{id}")).await;
    assert_eq!(r.status(), StatusCode::OK, "event {id}");
    assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
    let text = r.text().await.expect("body");
    let event = SignedEvent::from_json(&text).expect("a NIP-01 event");
    event.verify().expect("id and signature verify as served");
    assert_eq!(event.id.to_hex(), id);
    event
}

async fn findings_pages_carry_verifiable_evidence(s: &Server, sim: &Simulation) {
    // (kind, Y, proving events) per mint.
    type Found = BTreeSet<(String, Option<String>, BTreeSet<String>)>;
    let mut want: BTreeMap<MintKey, Found> = BTreeMap::new();
    for f in &sim.expected {
        want.entry(f.mint).or_default().insert((
            f.kind.as_str().to_string(),
            f.y.map(|y| y.to_hex()),
            f.events.iter().map(|e| e.to_hex()).collect(),
        ));
    }
    assert!(!want.is_empty());
    let mut verified = 0;
    for (mint, expected) in &want {
        let mut got = Found::new();
        let mut ids = BTreeSet::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/v1/mints/{mint}/findings?limit=1&resolved=false&cursor={c}"),
                None => format!("/v1/mints/{mint}/findings?limit=1&resolved=false"),
            };
            let page: FindingsPage = s.get_json(&path).await;
            assert!(page.findings.len() <= 1);
            for f in page.findings {
                assert!(ids.insert(f.id), "finding {} listed twice", f.id);
                assert!(!f.resolved);
                for id in &f.events {
                    let event = fetch_event(s, id).await;
                    verified += 1;
                    if matches!(f.kind.as_str(), "double-spend" | "fork" | "gap") {
                        assert_eq!(event.pubkey, *mint.as_bytes(), "signed by the mint");
                    }
                }
                got.insert((
                    f.kind.clone(),
                    f.y.clone(),
                    f.events.iter().cloned().collect(),
                ));
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(&got, expected, "findings of {mint}");

        // The kind filter.
        let page: FindingsPage = s
            .get_json(&format!("/v1/mints/{mint}/findings?kind=fork&limit=200"))
            .await;
        assert!(page.findings.iter().all(|f| f.kind == "fork"));
        let forks = expected.iter().filter(|(k, _, _)| k == "fork").count();
        assert_eq!(page.findings.len(), forks);
    }
    assert!(verified > 0);
    // An honest mint has no unresolved finding; what arrived out of order during the crawl
    // (a gap before its event came) may be listed as resolved. The filter splits the list.
    for honest in sim.stats.values().filter(|m| m.role == MintRole::Honest) {
        let path = format!("/v1/mints/{}/findings?limit=200", honest.mint);
        let all: FindingsPage = s.get_json(&path).await;
        let open: FindingsPage = s.get_json(&format!("{path}&resolved=false")).await;
        let closed: FindingsPage = s.get_json(&format!("{path}&resolved=true")).await;
        assert!(open.findings.is_empty(), "{:?}", open.findings);
        assert!(closed.findings.iter().all(|f| f.resolved));
        assert_eq!(all.findings, closed.findings);
    }
}

async fn reviews_page_through(s: &Server, sim: &Simulation) {
    let (key, stats) = sim
        .stats
        .iter()
        .max_by_key(|(_, s)| s.reviews)
        .expect("a mint");
    assert!(
        stats.reviews >= 3,
        "the simulation reviews some mint several times"
    );
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/mints/{key}/reviews?limit=2&cursor={c}"),
            None => format!("/v1/mints/{key}/reviews?limit=2"),
        };
        let page: ReviewsPage = s.get_json(&path).await;
        all.extend(page.reviews);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(all.len(), stats.reviews);
    let authors: BTreeSet<&str> = all.iter().map(|r| r.author.as_str()).collect();
    assert_eq!(authors.len(), stats.distinct_reviewers);
    let ids: BTreeSet<&str> = all.iter().map(|r| r.event_id.as_str()).collect();
    assert_eq!(ids.len(), all.len(), "a review listed twice");
    for w in all.windows(2) {
        assert!(
            w[0].created_at > w[1].created_at
                || (w[0].created_at == w[1].created_at && w[0].event_id < w[1].event_id),
            "newest first"
        );
    }
    let rated: Vec<f64> = all.iter().filter_map(|r| r.rating).collect();
    assert_eq!(rated.len(), stats.rated_reviews);
    if let Some(mean) = stats.mean_rating {
        let got = rated.iter().sum::<f64>() / rated.len() as f64;
        assert!((got - mean).abs() < 1e-9);
    }
    // Each review is a stored, verifiable 38000.
    let event = fetch_event(s, &all[0].event_id).await;
    assert_eq!(event.kind, 38000);
}

/// Many lookups at once through [`SpentLookups`] get exactly what each would get alone from
/// [`check_spent`] (burnt, double-spent and unknown `Y`s, repeats within a request), in their own
/// order, while fewer statements than requests run.
async fn concurrent_spent_lookups_are_merged_and_exact(db: &TestDb) {
    let stored: Vec<Vec<u8>> = sqlx::query_scalar(
        "(SELECT y FROM burns ORDER BY y LIMIT 300)
         UNION ALL (SELECT y FROM findings WHERE y IS NOT NULL LIMIT 20)",
    )
    .fetch_all(db.store.pool())
    .await
    .expect("stored Ys");
    let mut ys: Vec<Point> = stored
        .iter()
        .map(|b| Point::from_bytes(b).expect("a stored point"))
        .collect();
    assert!(ys.len() > 300, "burns and double-spent Ys to ask about");
    ys.extend((0..100u32).map(|i| {
        mintwatch_protocol::ecash::hash_to_curve(format!("never burnt {i}").as_bytes())
            .expect("a point")
    }));
    let requests: Vec<Vec<Point>> = (0..ys.len())
        .map(|i| {
            // 1 to 3 Ys, the third a repeat of the first.
            let mut r = vec![ys[i]];
            if i % 3 > 0 {
                r.push(ys[(i * 7 + 1) % ys.len()]);
            }
            if i % 3 > 1 {
                r.push(ys[i]);
            }
            r
        })
        .collect();
    // Every request at once, each in its own task, as concurrent HTTP handlers would ask.
    let spawn_all = |lookups: &SpentLookups, requests: &[Vec<Point>]| -> Vec<_> {
        requests
            .iter()
            .map(|r| {
                let (lookups, r) = (lookups.clone(), r.clone());
                tokio::spawn(async move { lookups.check(r).await })
            })
            .collect()
    };
    let lookups = SpentLookups::new(db.store.clone());
    let tasks = spawn_all(&lookups, &requests);
    let mut burnt = 0;
    for (task, request) in tasks.into_iter().zip(&requests) {
        let merged = task.await.expect("task").expect("merged lookup");
        let alone = check_spent(&db.store, request).await.expect("lookup");
        assert_eq!(merged, alone, "{request:?}");
        burnt += merged.iter().filter(|e| !e.burnt.is_empty()).count();
    }
    assert!(burnt > 300, "{burnt} burnt answers");
    let counts = lookups.counts();
    assert_eq!(counts.requests, requests.len() as u64);
    assert!(
        counts.statements < counts.requests,
        "{} requests took {} statements: nothing was merged",
        counts.requests,
        counts.statements
    );

    // A failing store answers every waiting request with an error; none hangs.
    let closed = mintwatch_store::Store::connect(&db.url)
        .await
        .expect("a second pool");
    closed.pool().close().await;
    let lookups = SpentLookups::new(closed);
    for task in spawn_all(&lookups, &requests[..20]) {
        let answer = tokio::time::timeout(std::time::Duration::from_secs(10), task)
            .await
            .expect("answered, not hung")
            .expect("task");
        assert!(answer.is_err(), "a closed pool cannot answer");
    }
}

async fn spent_lookups_agree_with_the_wallets(s: &Server, sim: &Simulation) {
    let mut checked_burnt = 0u64;
    let mut checked_unknown = 0u64;
    for stats in sim.stats.values().filter(|m| m.role == MintRole::Honest) {
        let mint = stats.mint.to_hex();
        for ((unit, epoch), totals) in &stats.groups {
            // Every token the mint issued in the group; exactly burn_count of them are burnt,
            // each by this mint with its amount, unit and epoch. Tokens never issued are unknown.
            let tokens: Vec<_> = (0..totals.mint_count + 3)
                .map(|i| {
                    sim.wallet
                        .token(&stats.mint, unit, *epoch, i)
                        .expect("a simulated mint")
                })
                .collect();
            let mut answers: Vec<SpentEntry> = Vec::new();
            for chunk in tokens.chunks(1_000) {
                let ys: Vec<String> = chunk.iter().map(|t| t.y.to_hex()).collect();
                let r = s.post_json("/v1/spent", &json!({ "Ys": ys })).await;
                assert_eq!(r.status(), StatusCode::OK);
                let v: Value = r.json().await.expect("json");
                let results: Vec<SpentEntry> =
                    serde_json::from_value(v["results"].clone()).expect("results");
                assert_eq!(results.len(), chunk.len(), "one answer per Y");
                answers.extend(results);
            }
            let mut burnt = 0;
            for (i, (token, answer)) in tokens.iter().zip(&answers).enumerate() {
                assert_eq!(answer.y, token.y.to_hex(), "answers in order");
                if i as u64 >= totals.mint_count {
                    assert!(answer.burnt.is_empty(), "a token never issued is not burnt");
                    checked_unknown += 1;
                    continue;
                }
                if answer.burnt.is_empty() {
                    continue;
                }
                burnt += 1;
                assert_eq!(answer.burnt.len(), 1, "{mint}: one burn of an honest token");
                let b = &answer.burnt[0];
                assert_eq!(b.mint, mint);
                assert_eq!(b.amount, token.amount.get());
                assert_eq!(b.unit, unit.as_str());
                assert_eq!(b.epoch, epoch.get());
                assert_eq!(b.entries, 1);
                assert_eq!(b.events.len(), 1);
                assert!(answer.findings.is_empty());
            }
            assert_eq!(
                burnt, totals.burn_count,
                "{mint} {unit} {epoch}: burnt tokens"
            );
            checked_burnt += burnt;
        }
    }
    assert!(checked_burnt > 0 && checked_unknown > 0);

    // A burnt Y by GET agrees with the batch, and its events are the mint's signed 4919s that
    // contain it.
    let honest = sim
        .stats
        .values()
        .find(|m| m.role == MintRole::Honest && m.groups.values().any(|t| t.burn_count > 0))
        .expect("an honest mint that burnt");
    let ((unit, epoch), _) = honest
        .groups
        .iter()
        .find(|(_, t)| t.burn_count > 0)
        .expect("a group with burns");
    let mut found = None;
    for i in 0.. {
        let t = sim
            .wallet
            .token(&honest.mint, unit, *epoch, i)
            .expect("token");
        let one: SpentEntry = s.get_json(&format!("/v1/spent/{}", t.y)).await;
        if !one.burnt.is_empty() {
            found = Some((t, one));
            break;
        }
    }
    let (token, one) = found.expect("a burnt token");
    let event = fetch_event(s, &one.burnt[0].events[0]).await;
    assert_eq!(event.kind, 4919);
    assert_eq!(event.pubkey, *honest.mint.as_bytes(), "mint-signed");
    let r = s
        .post_json("/v1/spent", &json!({ "Ys": [token.y.to_hex()] }))
        .await;
    let v: Value = r.json().await.expect("json");
    let batch: SpentEntry = serde_json::from_value(v["results"][0].clone()).expect("entry");
    assert_eq!(batch, one);
    // Duplicates are answered twice, in place.
    let r = s
        .post_json(
            "/v1/spent",
            &json!({ "Ys": [token.y.to_hex(), token.y.to_hex()] }),
        )
        .await;
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["results"].as_array().expect("results").len(), 2);
    assert_eq!(v["results"][0], v["results"][1]);

    // Double-spent Ys list two burns or more, in exactly the proving events; collisions list
    // both mints.
    let mut seen_double = false;
    for f in sim.expected.iter().filter(|f| f.y.is_some()) {
        let y = f.y.expect("y");
        let entry: SpentEntry = s.get_json(&format!("/v1/spent/{y}")).await;
        let mint = f.mint.to_hex();
        let ours: Vec<_> = entry.burnt.iter().filter(|b| b.mint == mint).collect();
        assert!(!ours.is_empty(), "{y} burnt by {mint}");
        match f.kind {
            FindingKind::DoubleSpend => {
                seen_double = true;
                let entries: u64 = ours.iter().map(|b| b.entries).sum();
                assert!(entries >= 2, "{y}: double-spent, {entries} entries");
                let events: BTreeSet<String> = ours.iter().flat_map(|b| b.events.clone()).collect();
                let want: BTreeSet<String> = f.events.iter().map(|e| e.to_hex()).collect();
                assert_eq!(events, want, "{y}: the proving events");
            }
            FindingKind::CrossMintCollision => {
                let mints: BTreeSet<&str> = entry.burnt.iter().map(|b| b.mint.as_str()).collect();
                assert!(mints.len() >= 2, "{y}: burnt by two mints");
            }
            _ => {}
        }
        assert!(
            entry
                .findings
                .iter()
                .any(|x| x.mint == mint && x.kind == f.kind.as_str()),
            "{y}: the finding is shown"
        );
    }
    assert!(seen_double, "the simulation has a double-spend");

    // A Y that is on the curve but never burnt: an empty list, 200.
    let fresh = Point::parse("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
        .expect("G");
    let entry: SpentEntry = s.get_json(&format!("/v1/spent/{fresh}")).await;
    assert!(entry.burnt.is_empty());

    // 1,000 Ys is the limit, and it is allowed.
    let ys: Vec<String> = (0..1_000).map(|_| fresh.to_hex()).collect();
    let r = s.post_json("/v1/spent", &json!({ "Ys": ys })).await;
    assert_eq!(r.status(), StatusCode::OK);
}

async fn events_are_served_verbatim(s: &Server, sim: &Simulation) {
    let rejected: BTreeSet<EventId> = sim.rejects.iter().map(|r| r.id).collect();
    let mut kinds = BTreeSet::new();
    for e in sim
        .events
        .iter()
        .filter(|e| !rejected.contains(&e.id))
        .step_by(7)
    {
        let served = fetch_event(s, &e.id.to_hex()).await;
        assert_eq!(served.pubkey, e.pubkey);
        assert_eq!(served.content, e.content);
        kinds.insert(served.kind);
    }
    assert!(kinds.len() >= 3, "several kinds fetched: {kinds:?}");
    for reject in &sim.rejects {
        let r = s.get(&format!("/v1/events/{}", reject.id)).await;
        expect_error(r, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    }
}

async fn stats_count_the_store(s: &Server, db: &TestDb, sim: &Simulation, relay: &str) {
    let st: GlobalStats = s.get_json("/v1/stats").await;
    // A burst of requests shares the counts: one scan answers all that arrive within a second
    // (a slow machine may need a second or two for the burst, hence the margin), not one each.
    const BURST: usize = 32;
    let before = s.stats.recounts();
    let burst: Vec<GlobalStats> =
        futures::future::join_all((0..BURST).map(|_| s.get_json::<GlobalStats>("/v1/stats"))).await;
    let recounts = s.stats.recounts() - before;
    assert!(
        recounts <= 3,
        "{BURST} concurrent /v1/stats made {recounts} counts of the store"
    );
    assert!(burst.iter().all(|b| b.store == st.store), "same counts");
    assert_eq!(st.store.events as i64, db.count("events").await);
    assert_eq!(
        st.store.events_by_kind.values().sum::<u64>(),
        st.store.events
    );
    assert_eq!(st.store.mints as i64, db.count("mints").await);
    let burns: u64 = sim
        .stats
        .values()
        .flat_map(|m| m.groups.values())
        .map(|t| t.burn_count)
        .sum();
    let issued: u64 = sim
        .stats
        .values()
        .flat_map(|m| m.groups.values())
        .map(|t| t.mint_count)
        .sum();
    assert_eq!(st.store.burns, burns);
    assert_eq!(st.store.issued, issued);
    assert_eq!(st.store.burns as i64, db.count("burns").await);
    let reviews: usize = sim.stats.values().map(|m| m.reviews).sum();
    assert_eq!(st.store.reviews, reviews as u64);
    let mut by_kind: BTreeMap<&str, u64> = BTreeMap::new();
    for f in &sim.expected {
        *by_kind.entry(f.kind.as_str()).or_default() += 1;
    }
    assert_eq!(st.store.findings.len(), FindingKind::ALL.len());
    for kind in FindingKind::ALL {
        assert_eq!(
            st.store.findings[kind.as_str()].unresolved,
            by_kind.get(kind.as_str()).copied().unwrap_or(0),
            "{kind}"
        );
    }
    let r = st
        .relays
        .iter()
        .find(|r| r.relay == relay)
        .expect("the relay");
    assert!(r.events_seen > 0);
    assert!(!r.cursors.is_empty(), "crawl cursors");
    let refused: u64 = r.refused.iter().map(|c| c.count).sum();
    assert_eq!(refused, sim.rejects.len() as u64, "every reject counted");
    // The indexer's live counters, served beside the store's.
    let ingest = st.ingest.expect("live ingest counters");
    assert_eq!(
        ingest.stored, st.store.events,
        "every stored event went through this ingest"
    );
    assert_eq!(ingest.burns, burns);
    assert!(ingest.received >= ingest.stored && ingest.rejected > 0 && ingest.batches > 0);
    assert!(ingest.uptime_secs > 0.0 && ingest.stored_per_sec > 0.0);
    let crawl = r.live.as_ref().expect("live crawl state of the relay");
    assert!(crawl.connects >= 1 && crawl.events > 0, "{crawl:?}");
}

async fn health_and_readiness(s: &Server) {
    let v: Value = s.get_json("/healthz").await;
    assert_eq!(v["status"], "ok");
    let v: Value = s.get_json("/readyz").await;
    assert_eq!(v["status"], "ok");
    assert_eq!(v["migrations"], MIGRATOR.iter().count());
}

/// A request to `path` (an OpenAPI path) with its parameters filled with real values.
fn concrete(path: &str, mint: &str, y: &str, event: &str) -> String {
    path.replace("{mint_key}", mint)
        .replace("{Y}", y)
        .replace("{id}", event)
}

async fn openapi_lists_every_route(s: &Server, sim: &Simulation) {
    let doc: Value = s.get_json("/openapi.json").await;
    assert!(
        doc["openapi"].as_str().expect("version").starts_with("3.1"),
        "OpenAPI 3.1"
    );
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            documented.insert((method.to_uppercase(), path.clone()));
            let responses = op["responses"].as_object().expect("responses");
            assert!(!responses.is_empty(), "{method} {path} documents responses");
            for (code, resp) in responses {
                if code.starts_with('4') || code.starts_with('5') {
                    let schema = &resp["content"]["application/json"]["schema"]["$ref"];
                    assert_eq!(
                        schema, "#/components/schemas/ErrorBody",
                        "{method} {path} {code} uses the error shape"
                    );
                }
            }
        }
    }
    let served: BTreeSet<(String, String)> = served_routes()
        .into_iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        documented, served,
        "the document lists exactly the routes served"
    );
    for schema in [
        "ErrorBody",
        "MintReport",
        "DirectoryPage",
        "SpentEntry",
        "GlobalStats",
    ] {
        assert!(
            doc["components"]["schemas"].get(schema).is_some(),
            "schema {schema}"
        );
    }

    // Each documented route is really served (not the 404 fallback).
    let mint = sim.stats.keys().next().expect("mint").to_hex();
    let event = sim.events[0].id.to_hex();
    let y = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
    for (method, path) in &documented {
        let url = s.url(&concrete(path, &mint, y, &event));
        let req = s
            .client
            .request(Method::from_bytes(method.as_bytes()).expect("method"), &url);
        let req = if method == "POST" {
            req.json(&json!({ "Ys": [y] }))
        } else {
            req
        };
        let r = req.send().await.expect("request");
        assert!(r.status().is_success(), "{method} {path}: {}", r.status());
    }
}

async fn metrics_count_requests_by_route(s: &Server) {
    let _ = s.get("/no/such/route").await;
    let _ = s.get("/v1/mints/nothex").await;
    let text = s.get("/metrics").await.text().await.expect("body");
    let line = |route: &str, status: &str| {
        text.lines().any(|l| {
            l.starts_with("mintwatch_http_requests_total{")
                && l.contains(&format!("route=\"{route}\""))
                && l.contains(&format!("status=\"{status}\""))
        })
    };
    assert!(line("/v1/mints/{mint_key}", "200"), "{text}");
    assert!(line("/v1/mints/{mint_key}", "304"));
    assert!(line("/v1/mints/{mint_key}", "400"));
    assert!(line("/v1/spent", "200"));
    assert!(line("unmatched", "404"));
    assert!(text.lines().any(
        |l| l.starts_with("mintwatch_http_request_duration_seconds_bucket{")
            && l.contains("route=\"/v1/mints\"")
    ));
    // Request counts grow.
    let count = |text: &str| -> f64 {
        text.lines()
            .filter(|l| {
                l.starts_with("mintwatch_http_requests_total{") && l.contains("route=\"/healthz\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let before = count(&text);
    for _ in 0..3 {
        let _ = s.get("/healthz").await;
    }
    let after = count(&s.get("/metrics").await.text().await.expect("body"));
    assert_eq!(after - before, 3.0);
}

async fn paging_is_stable_under_inserts(s: &Server, db: &TestDb) {
    for sort in ["rank", "activity", "name", "reviews"] {
        let before = all_pages(s, &format!("sort={sort}"), 200).await;
        let first: DirectoryPage = s.get_json(&format!("/v1/mints?sort={sort}&limit=3")).await;
        let cursor = first.next_cursor.clone().expect("more than one page");
        // A mint that sorts first in every order arrives between two page requests.
        let g = "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
        let newcomer = MintKey::parse(g).expect("G's x");
        sqlx::query(
            "INSERT INTO mints (key, name, first_seen, last_seen, rank, review_count)
             VALUES ($1, 'AAAA newcomer', 1, $2, 100, 1000000)",
        )
        .bind(newcomer.as_bytes().to_vec())
        .bind(i64::MAX / 2)
        .execute(db.store.pool())
        .await
        .expect("insert");
        let mut rows = first.mints.clone();
        let mut cursor = Some(cursor);
        while let Some(c) = cursor {
            let page: DirectoryPage = s
                .get_json(&format!("/v1/mints?sort={sort}&limit=3&cursor={c}"))
                .await;
            rows.extend(page.mints);
            cursor = page.next_cursor;
        }
        sqlx::query("DELETE FROM mints WHERE key = $1")
            .bind(newcomer.as_bytes().to_vec())
            .execute(db.store.pool())
            .await
            .expect("delete");
        assert_unique(&rows, sort);
        assert_eq!(
            rows, before,
            "sort {sort}: pages unchanged by an insert before them"
        );
    }
}

/// Every error path answers the one JSON shape with the right status; no input causes a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_json_errors_never_a_500() {
    let db = TestDb::new().await;
    let s = Server::start(&db).await;
    let g = "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";

    // Mint keys.
    for bad in [
        "nothex",
        "zz".repeat(32).as_str(),
        &g[..63],
        &format!("04{g}"),
    ] {
        for suffix in ["", "/findings", "/reviews"] {
            let m = expect_error(
                s.get(&format!("/v1/mints/{bad}{suffix}")).await,
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
            )
            .await;
            assert!(m.contains("mint_key"), "{m}");
        }
    }
    // Well-formed, as the document's pattern says, but x = 5 is not on secp256k1: no mint has
    // this key, a 404 (the pattern cannot state the curve).
    for suffix in ["", "/findings", "/reviews"] {
        let m = expect_error(
            s.get(&format!("/v1/mints/{:064x}{suffix}", 5)).await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        )
        .await;
        assert!(m.contains("mint_key") && m.contains("curve"), "{m}");
    }
    for suffix in ["", "/findings", "/reviews"] {
        let m = expect_error(
            s.get(&format!("/v1/mints/{g}{suffix}")).await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        )
        .await;
        assert!(m.contains(g), "{m}");
    }

    // Directory parameters.
    for (query, names) in [
        ("sort=popularity", "sort"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=-1", "limit"),
        ("limit=many", "limit"),
        ("min_rank=101", "min_rank"),
        ("identity=trusted", "identity"),
        ("network=dogecoin", "network"),
        ("unit=s%20a%20t", "unit"),
        ("nut=70000", "nut"),
        ("cursor=%%%", ""),
        ("cursor=bm90IGEgY3Vyc29y", "cursor"),
    ] {
        let m = expect_error(
            s.get(&format!("/v1/mints?{query}")).await,
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        )
        .await;
        assert!(m.contains(names), "{query}: {m}");
    }
    let long_q = "a".repeat(300);
    let m = expect_error(
        s.get(&format!("/v1/mints?q={long_q}")).await,
        StatusCode::BAD_REQUEST,
        "BAD_REQUEST",
    )
    .await;
    assert!(m.contains('q'), "{m}");
    let huge = "a".repeat(MAX_QUERY_BYTES + 1);
    expect_error(
        s.get(&format!("/v1/mints?q={huge}")).await,
        StatusCode::URI_TOO_LONG,
        "URI_TOO_LONG",
    )
    .await;
    // A cursor of another sort order.
    sqlx::query(
        "INSERT INTO mints (key, first_seen, last_seen) SELECT k, 1, 1 FROM unnest($1::bytea[]) k",
    )
    .bind(vec![
        hex::decode(g).expect("hex"),
        hex::decode("c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5")
            .expect("hex"),
    ])
    .execute(db.store.pool())
    .await
    .expect("two mints");
    let page: DirectoryPage = s.get_json("/v1/mints?sort=name&limit=1").await;
    let c = page.next_cursor.expect("a second page");
    let m = expect_error(
        s.get(&format!("/v1/mints?sort=rank&cursor={c}")).await,
        StatusCode::BAD_REQUEST,
        "BAD_REQUEST",
    )
    .await;
    assert!(m.contains("cursor"), "{m}");

    // Findings and reviews parameters.
    for query in [
        "kind=theft",
        "limit=0",
        "limit=500",
        "cursor=xyz",
        "resolved=maybe",
    ] {
        expect_error(
            s.get(&format!("/v1/mints/{g}/findings?{query}")).await,
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        )
        .await;
    }
    // Forged cursors: well-formed base64 JSON with values this API never makes.
    let forge = |v: Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let forged_review = forge(json!({ "created_at": i64::MIN, "id": "00".repeat(32) }));
    let forged_dir = [
        (
            "name",
            json!({ "sort": "name", "nameless": false, "name": "a\0b", "key": g }),
        ),
        ("rank", json!({ "sort": "rank", "key": g })),
        ("rank", json!({ "sort": "rank", "rank": 1.0, "key": "00" })),
        (
            "reviews",
            json!({ "sort": "reviews", "int": 1.5, "key": g }),
        ),
        (
            "activity",
            json!({ "sort": "activity", "int": i64::MIN, "key": format!("{:064x}", 5) }),
        ),
    ];
    for (sort, cursor) in forged_dir {
        let c = forge(cursor);
        let m = expect_error(
            s.get(&format!("/v1/mints?sort={sort}&cursor={c}")).await,
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        )
        .await;
        assert!(m.contains("cursor"), "{sort}: {m}");
    }
    // A forged cursor with extreme but valid values is just a position: an empty page.
    let c = forge(json!({ "sort": "activity", "int": i64::MIN, "key": g }));
    let page: DirectoryPage = s
        .get_json(&format!("/v1/mints?sort=activity&cursor={c}"))
        .await;
    assert_eq!(page.mints.len(), 2);
    let c = forge(json!({ "sort": "activity", "int": i64::MAX, "key": g }));
    let page: DirectoryPage = s
        .get_json(&format!("/v1/mints?sort=activity&cursor={c}"))
        .await;
    assert!(page.mints.is_empty());
    for query in ["limit=0", "cursor=xyz", &format!("cursor={forged_review}")] {
        expect_error(
            s.get(&format!("/v1/mints/{g}/reviews?{query}")).await,
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        )
        .await;
    }

    // Spent.
    for bad in ["nothex", &format!("05{g}"), g] {
        let m = expect_error(
            s.get(&format!("/v1/spent/{bad}")).await,
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        )
        .await;
        assert!(m.contains('Y'), "{m}");
    }
    // Of the document's shape, but x = 5 is not on the curve: no secret hashes to it, a 404.
    let m = expect_error(
        s.get(&format!("/v1/spent/02{:064x}", 5)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert!(m.contains("curve"), "{m}");
    let y = format!("02{g}");
    let m = expect_error(
        s.post_json("/v1/spent", &json!({ "Ys": [y, "nope"] }))
            .await,
        StatusCode::BAD_REQUEST,
        "BAD_REQUEST",
    )
    .await;
    assert!(m.contains("Ys[1]"), "{m}");
    let many: Vec<&str> = (0..1_001).map(|_| y.as_str()).collect();
    let m = expect_error(
        s.post_json("/v1/spent", &json!({ "Ys": many })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "UNPROCESSABLE",
    )
    .await;
    assert!(m.contains("1001"), "{m}");
    expect_error(
        s.post_json("/v1/spent", &json!({ "Ys": [] })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "UNPROCESSABLE",
    )
    .await;
    expect_error(
        s.post_json("/v1/spent", &json!({ "ys": [y] })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "UNPROCESSABLE",
    )
    .await;
    expect_error(
        s.post_json("/v1/spent", &json!({ "Ys": [1, 2] })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "UNPROCESSABLE",
    )
    .await;
    let raw = |body: &'static str, ctype: &'static str| {
        s.client
            .post(s.url("/v1/spent"))
            .header(header::CONTENT_TYPE, ctype)
            .body(body)
            .send()
    };
    expect_error(
        raw("{\"Ys\": [", "application/json")
            .await
            .expect("request"),
        StatusCode::BAD_REQUEST,
        "BAD_REQUEST",
    )
    .await;
    expect_error(
        raw("{\"Ys\": []}", "text/plain").await.expect("request"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    .await;
    // Oversized bodies, with a length and streamed without one.
    let big = format!("{{\"Ys\": [\"{}\"]}}", "0".repeat(MAX_BODY_BYTES));
    expect_error(
        s.client
            .post(s.url("/v1/spent"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(big.clone())
            .send()
            .await
            .expect("request"),
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
    )
    .await;
    // Chunked, so no Content-Length announces the size: the limit applies while reading.
    let (status, body) = raw_chunked_post(&s, "/v1/spent", big.as_bytes()).await;
    assert_eq!(status, 413, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json error");
    assert_eq!(v["error"]["code"], "PAYLOAD_TOO_LARGE");

    // Events.
    expect_error(
        s.get("/v1/events/xyz").await,
        StatusCode::BAD_REQUEST,
        "BAD_REQUEST",
    )
    .await;
    expect_error(
        s.get(&format!("/v1/events/{}", "ab".repeat(32))).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;

    // Routes and methods (`/` is the website's directory page).
    for path in [
        "/nope",
        "/v1",
        "/v1/mint",
        "/v2/mints",
        "/v1/mints/a/b/c",
        "/v1/spent/",
    ] {
        expect_error(s.get(path).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    }
    for (method, path) in [
        (Method::DELETE, "/v1/mints"),
        (Method::PUT, "/v1/spent"),
        (Method::GET, "/v1/spent"),
        (Method::POST, "/v1/mints"),
    ] {
        let r = s
            .client
            .request(method.clone(), s.url(path))
            .send()
            .await
            .expect("request");
        expect_error(r, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED").await;
    }

    // Garbage never reaches a 500.
    for path in [
        "/v1/mints/%ff%fe",
        "/v1/mints/%00",
        "/v1/spent/%F0%9F%92%A9",
        "/v1/events/%2e%2e%2f%2e%2e",
        "/v1/mints?sort=%ff",
        "/v1/mints?q=%00",
        "/v1/mints?q=%27%3B%20DROP%20TABLE%20mints%3B--",
        "/v1/mints?q=%F0%9F%92%A9",
        "/v1/mints?limit=99999999999999999999",
        "/v1/mints?min_rank=-5",
        "/v1/mints?nut=1&nut=2",
    ] {
        let r = s.get(path).await;
        assert!(
            r.status().is_success() || r.status().is_client_error(),
            "{path}: {}",
            r.status()
        );
        let status = r.status();
        if status.is_client_error() {
            expect_error(r, status, "BAD_REQUEST").await;
        }
    }
    // The mints table survived the SQL in `q`.
    assert_eq!(db.count("mints").await, 2);

    s.stop().await;
    db.drop().await;
}

/// POSTs `body` with `Transfer-Encoding: chunked` over a plain socket; returns the status and
/// the response body (the server closes the connection).
async fn raw_chunked_post(s: &Server, path: &str, body: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = s.base.trim_start_matches("http://");
    let mut sock = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    sock.write_all(head.as_bytes()).await.expect("head");
    for chunk in body.chunks(8192) {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        // The server may answer and close before the whole body is sent.
        if sock.write_all(&framed).await.is_err() {
            break;
        }
    }
    let _ = sock.write_all(b"0\r\n\r\n").await;
    let mut out = Vec::new();
    let _ = sock.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out).to_string();
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text}"));
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    // The body may be chunk-framed; take the JSON object inside.
    let json = match (body.find('{'), body.rfind('}')) {
        (Some(a), Some(b)) if a <= b => body[a..=b].to_string(),
        _ => body,
    };
    (status, json)
}

/// CORS: any origin may read; preflights are answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_is_open_for_reads() {
    let db = TestDb::new().await;
    let s = Server::start(&db).await;
    let r = s
        .client
        .get(s.url("/v1/mints"))
        .header(header::ORIGIN, "https://directory.example")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    // Errors carry it too, so the website can read the message.
    let r = s
        .client
        .get(s.url("/v1/mints?sort=nope"))
        .header(header::ORIGIN, "https://directory.example")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let r = s
        .client
        .request(Method::OPTIONS, s.url("/v1/spent"))
        .header(header::ORIGIN, "https://directory.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
        .send()
        .await
        .expect("request");
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(r.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let methods = r.headers()[header::ACCESS_CONTROL_ALLOW_METHODS]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(
        methods.contains("GET") && methods.contains("POST"),
        "{methods}"
    );
    s.stop().await;
    db.drop().await;
}

/// Readiness fails (503, JSON) when a migration is missing, and the API still answers liveness.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_requires_every_migration() {
    let db = TestDb::new().await;
    let s = Server::start(&db).await;
    let v: Value = s.get_json("/readyz").await;
    assert_eq!(v["status"], "ok");
    let last = MIGRATOR
        .iter()
        .map(|m| m.version)
        .max()
        .expect("migrations");
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1")
        .bind(last)
        .execute(db.store.pool())
        .await
        .expect("forget a migration");
    let m = expect_error(
        s.get("/readyz").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "UNAVAILABLE",
    )
    .await;
    assert!(
        !m.contains(&last.to_string()),
        "internals stay in the log: {m}"
    );
    let v: Value = s.get_json("/healthz").await;
    assert_eq!(v["status"], "ok");
    s.stop().await;
    db.drop().await;
}
