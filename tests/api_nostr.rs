//! mintwatch on nostr, end to end: simulated mints publish to a real in-process relay, the real
//! indexer crawls them into a real PostgreSQL, the nostr outputs publish to the same relay, and a
//! wallet built on nostr-sdk (talking only to that relay) asks the encrypted query service and
//! checks every answer against the simulator's truth.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use nostr_sdk::prelude::{
    Client, EventBuilder, Filter, Keys, Kind, PublicKey, RelayPoolNotification, Tag, Timestamp,
};
use tokio::sync::broadcast;

use mintwatch_api::nostr::reports::{DirectoryPage, MintReport};
use mintwatch_api::nostr::service::EvidenceResult;
use mintwatch_api::nostr::{
    load_or_create_key, KeyFileError, NostrHandle, NostrService, OutputStats, Publisher, RateLimit,
};
use mintwatch_protocol::broadcast::{CashuData, GroupContents};
use mintwatch_protocol::kinds::{ASSERTION, CASHU_DATA, LABEL, SERVICE_INFO, SERVICE_REQUEST};
use mintwatch_protocol::output::nip44::{self, ConversationKey};
use mintwatch_protocol::output::{
    build_request, open_response, parse_assertion, parse_service_info, verify_evidence_label,
    CheckSpent, CheckSpentResult, DirectoryQuery, ErrorCode, EvidenceQuery, Method, MintParam,
    Query, Recheck, Response, Sort,
};
use mintwatch_protocol::{EventId, FindingKind, IdentityLevel, MintKey, Point, SignedEvent, Unit};
use mintwatch_sim::{MintRole, Simulation};
use mintwatch_testkit::{
    connected_client, indexed_small_simulation, wait_for, Indexed, TestDb, TestRelay,
};

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn the_key_file_is_created_private_and_a_readable_one_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("indexer.key");
    let created = load_or_create_key(&path).expect("created");
    let mode = std::fs::metadata(&path)
        .expect("exists")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "created with mode {mode:o}");
    let loaded = load_or_create_key(&path).expect("loaded");
    assert_eq!(
        loaded.public_key(),
        created.public_key(),
        "a second start reuses the key"
    );

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    match load_or_create_key(&path) {
        Err(KeyFileError::Permissions { mode, .. }) => assert_eq!(mode, 0o644),
        other => panic!("a 0644 key file was not refused: {other:?}"),
    }

    let bad = dir.path().join("bad.key");
    std::fs::write(&bad, "not a key\n").expect("write");
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    assert!(
        matches!(load_or_create_key(&bad), Err(KeyFileError::Content { .. })),
        "a key file with bad content was accepted"
    );
}

/// Runs the real indexer over the relay until every acceptable event is stored, then finishes
/// the analysis.
fn service_config(relay: &str, keys: &Keys, publish_interval: Duration) -> NostrService {
    NostrService {
        publish_interval,
        scan_every: Duration::from_millis(150),
        rate_limit: RateLimit {
            burst: 4,
            per_second: 0.1,
        },
        max_concurrent_requests: 4,
        connect_timeout: Duration::from_secs(5),
        // One label per `get_evidence` page, so the wallet must follow `next` to see them all.
        evidence_page_bytes: 1,
        ..NostrService::new(vec![relay.to_string()], keys.clone())
    }
}

/// A wallet on nostr-sdk: it hears every response of the service and opens those addressed to
/// one of its keys. A fresh key per request (as a private wallet would) keeps the functional
/// checks clear of the rate limit; [`Wallet::flood`] uses one key on purpose.
struct Wallet {
    client: Client,
    notes: broadcast::Receiver<RelayPoolNotification>,
    service: PublicKey,
    /// Responses heard, by request id, already opened.
    heard: HashMap<EventId, Response>,
    keys: HashMap<PublicKey, Keys>,
}

impl Wallet {
    async fn connect(relay: &str, service: PublicKey) -> Wallet {
        let client = connected_client(relay).await;
        let notes = client.notifications();
        client
            .subscribe(
                Filter::new()
                    .kind(Kind::Custom(28173))
                    .author(service)
                    .since(Timestamp::now() - Duration::from_secs(5)),
                None,
            )
            .await
            .expect("subscribe to responses");
        Wallet {
            client,
            notes,
            service,
            heard: HashMap::new(),
            keys: HashMap::new(),
        }
    }

    async fn send(&mut self, keys: &Keys, request: &SignedEvent) -> EventId {
        self.keys.insert(keys.public_key(), keys.clone());
        let out = self
            .client
            .send_event(&request.to_nostr().expect("converts"))
            .await
            .expect("sent");
        assert!(!out.success.is_empty(), "the relay refused a request");
        request.id
    }

    /// Waits until a response to each of `ids` was heard.
    async fn responses(&mut self, ids: &[EventId]) -> Vec<Response> {
        let deadline = tokio::time::Instant::now() + WAIT;
        while ids.iter().any(|id| !self.heard.contains_key(id)) {
            let note = tokio::time::timeout_at(deadline, self.notes.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "no response to {} of {} requests",
                        ids.iter().filter(|i| !self.heard.contains_key(i)).count(),
                        ids.len()
                    )
                })
                .expect("notifications");
            let RelayPoolNotification::Event { event, .. } = note else {
                continue;
            };
            let event = SignedEvent::from(&*event);
            let Some(keys) = event
                .tag_value("p")
                .and_then(|p| PublicKey::from_hex(p).ok())
                .and_then(|p| self.keys.get(&p))
            else {
                continue;
            };
            let opened = open_response(keys, &event).expect("a response that opens");
            assert_eq!(opened.service, self.service, "answered by another key");
            assert!(
                self.heard.insert(opened.request, opened.response).is_none(),
                "two responses to one request"
            );
        }
        ids.iter().map(|id| self.heard[id].clone()).collect()
    }

    async fn ask(&mut self, query: &Query) -> Response {
        let keys = Keys::generate();
        let request = build_request(&keys, &self.service, query).expect("request builds");
        let id = self.send(&keys, &request).await;
        self.responses(&[id]).await.remove(0)
    }

    async fn ok<T: serde::de::DeserializeOwned>(&mut self, query: &Query) -> T {
        let r = self.ask(query).await;
        assert!(r.error.is_none(), "{query:?} failed: {:?}", r.error);
        assert_eq!(r.result_type, Some(query.method()));
        serde_json::from_value(r.result.expect("a result")).expect("result shape")
    }

    /// A request whose encrypted body is `body`, verbatim.
    async fn raw(&mut self, keys: &Keys, content: String) -> EventId {
        let event = EventBuilder::new(Kind::Custom(SERVICE_REQUEST), content)
            .tags([Tag::public_key(self.service)])
            .sign_with_keys(keys)
            .expect("signs");
        self.send(keys, &SignedEvent::from(&event)).await
    }

    async fn encrypted(&mut self, body: &str) -> Response {
        let keys = Keys::generate();
        let ck = ConversationKey::from_keys(&keys, &self.service).expect("conversation key");
        let content = nip44::encrypt(&ck, body.as_bytes()).expect("encrypts");
        let id = self.raw(&keys, content).await;
        self.responses(&[id]).await.remove(0)
    }

    /// Events fetched from the relay by id.
    async fn fetch(&self, ids: &[String]) -> Vec<SignedEvent> {
        let ids = ids
            .iter()
            .map(|i| nostr_sdk::prelude::EventId::from_hex(i).expect("hex id"));
        self.client
            .fetch_events(Filter::new().ids(ids), Duration::from_secs(5))
            .await
            .expect("fetched")
            .iter()
            .map(SignedEvent::from)
            .collect()
    }

    async fn published(&self, kind: u16) -> Vec<SignedEvent> {
        self.client
            .fetch_events(
                Filter::new().kind(Kind::Custom(kind)).author(self.service),
                Duration::from_secs(5),
            )
            .await
            .expect("fetched")
            .iter()
            .map(SignedEvent::from)
            .collect()
    }
}

fn error_code(r: &Response) -> Option<ErrorCode> {
    r.error.as_ref().map(|e| e.code)
}

/// The ids of the burns of `y` by `mint` (or by anyone) that a 4919 fetched from the relay
/// really contains, after checking its signature and signer.
fn burning(events: &[SignedEvent], y: &Point) -> BTreeMap<EventId, MintKey> {
    let mut out = BTreeMap::new();
    for e in events {
        e.verify().expect("a 4919 from the relay verifies");
        assert_eq!(e.kind, CASHU_DATA, "check_spent named a non-4919");
        let data = CashuData::parse(e).expect("parses");
        let contains = data.groups.iter().any(|g| match &g.contents {
            GroupContents::Burn(entries) => entries.iter().any(|b| b.y == *y),
            GroupContents::Mint(_) => false,
        });
        assert!(contains, "event {} does not burn {y}", e.id);
        out.insert(
            e.id,
            MintKey::from_x_only_bytes(e.pubkey).expect("signer is a key"),
        );
    }
    out
}

async fn check_spent(wallet: &mut Wallet, sim: &Simulation) {
    let honest: Vec<_> = sim
        .stats
        .values()
        .filter(|s| s.role == MintRole::Honest)
        .collect();
    let mut asked = 0;
    for s in &honest {
        let sat = Unit::parse("sat").expect("unit");
        let Some(((unit, epoch), totals)) = s
            .groups
            .iter()
            .find(|((u, _), t)| *u == sat && t.burn_count > 0 && t.mint_count > t.burn_count)
        else {
            continue;
        };
        // The oldest tokens are burnt first: index 0 is burnt, index burn_count is issued and
        // not burnt, and an index past everything issued was never seen.
        let token = |i: u64| sim.wallet.token(&s.mint, unit, *epoch, i).expect("token").y;
        let (burnt, unspent, unknown) = (
            token(0),
            token(totals.burn_count),
            token(totals.mint_count + 1_000),
        );
        let result: CheckSpentResult = wallet
            .ok(&Query::CheckSpent(CheckSpent {
                ys: vec![burnt, unspent, unknown],
                mint: None,
            }))
            .await;
        let r = &result.results;
        assert_eq!(r.len(), 3);
        assert_eq!((r[0].y, r[1].y, r[2].y), (burnt, unspent, unknown));
        assert!(
            r[0].burnt && !r[0].events.is_empty(),
            "{burnt} not reported burnt"
        );
        assert!(
            !r[1].burnt && r[1].events.is_empty(),
            "unspent token reported burnt"
        );
        assert!(
            !r[2].burnt && r[2].events.is_empty(),
            "unknown Y reported burnt"
        );
        let fetched = wallet.fetch(&r[0].events).await;
        assert_eq!(
            fetched.len(),
            r[0].events.len(),
            "a named 4919 is not on the relay"
        );
        let signers = burning(&fetched, &burnt);
        assert!(
            signers.values().all(|m| *m == s.mint),
            "burnt by another key"
        );
        asked += 1;
    }
    assert!(
        asked >= 3,
        "only {asked} honest mints had burnt tokens to ask about"
    );

    // Double-spends and collisions: exactly the proving events, per mint and overall.
    let mut doubles = 0;
    for f in &sim.expected {
        let Some(y) = f.y else { continue };
        let mint = (f.kind == FindingKind::DoubleSpend).then_some(f.mint);
        let result: CheckSpentResult = wallet
            .ok(&Query::CheckSpent(CheckSpent { ys: vec![y], mint }))
            .await;
        let status = &result.results[0];
        assert!(status.burnt);
        let fetched = wallet.fetch(&status.events).await;
        let signers = burning(&fetched, &y);
        assert_eq!(
            signers.keys().copied().collect::<BTreeSet<_>>(),
            f.events,
            "{} of {}: events differ",
            f.kind,
            f.mint
        );
        match f.kind {
            FindingKind::DoubleSpend => {
                assert!(signers.values().all(|m| *m == f.mint));
                doubles += 1;
            }
            FindingKind::CrossMintCollision => {
                let keys: BTreeSet<_> = signers.values().collect();
                assert_eq!(keys.len(), 2, "a collision is burnt by two mints");
            }
            _ => {}
        }
    }
    assert!(
        doubles > 0,
        "the simulation has no double-spend to ask about"
    );
}

async fn get_mint(wallet: &mut Wallet, sim: &Simulation) {
    for (key, s) in &sim.stats {
        let report: MintReport = wallet.ok(&Query::GetMint(MintParam { mint: *key })).await;
        assert_eq!(report.key, key.to_hex());
        assert_eq!(report.identity, s.identity, "identity of {}", s.name);
        let burns: u64 = s.groups.values().map(|t| t.burn_count).sum();
        let mints: u64 = s.groups.values().map(|t| t.mint_count).sum();
        assert_eq!((report.burns, report.mints), (burns, mints), "{}", s.name);
        let outstanding: BTreeMap<String, String> = s
            .outstanding
            .iter()
            .map(|(u, a)| (u.as_str().to_string(), a.to_string()))
            .collect();
        assert_eq!(report.outstanding, outstanding, "{}", s.name);
        for ((unit, epoch), t) in &s.groups {
            let g = report
                .totals
                .iter()
                .find(|g| g.unit == unit.as_str() && g.epoch == epoch.get())
                .unwrap_or_else(|| panic!("{}: no totals for ({unit}, {epoch})", s.name));
            assert_eq!(
                (
                    g.burn_count,
                    g.mint_count,
                    g.burn_amount.clone(),
                    g.mint_amount.clone()
                ),
                (
                    t.burn_count,
                    t.mint_count,
                    t.burn_amount.to_string(),
                    t.mint_amount.to_string()
                )
            );
        }
        assert_eq!(report.chain.length, s.published_4919, "{}", s.name);
        if s.role == MintRole::Honest {
            assert_eq!(report.chain.head, s.head.map(|h| h.to_hex()), "{}", s.name);
        }
        assert_eq!(report.reviews.count, s.reviews as u64, "{}", s.name);
        assert_eq!(
            report.reviews.distinct_authors, s.distinct_reviewers as u64,
            "{}",
            s.name
        );
        match (report.reviews.mean_rating, s.mean_rating) {
            (Some(a), Some(b)) => assert!((a - b).abs() < 1e-9, "{}: {a} vs {b}", s.name),
            (a, b) => assert_eq!(a, b, "{}", s.name),
        }
        // A mint known only from its batches has published no URL.
        if s.identity != IdentityLevel::Unbound {
            assert!(
                report.urls.contains(&s.url.as_str().to_string()),
                "{}: {:?} lacks {}",
                s.name,
                report.urls,
                s.url
            );
        }
        let rank = report.rank.expect("ranked");
        assert!(rank <= 100);
        for kind in FindingKind::ALL {
            let want = sim
                .expected
                .iter()
                .filter(|f| f.kind == kind && f.mint == *key)
                .count() as u64;
            assert_eq!(report.findings[kind.as_str()], want, "{}: {kind}", s.name);
        }
        if report.findings["double-spend"] > 0 {
            assert!(rank <= 10, "a double-spender ranks {rank}");
        }
    }
    // A mint nobody published anything about.
    let stranger =
        MintKey::from_x_only_bytes(*Keys::generate().public_key().as_bytes()).expect("key");
    let r = wallet
        .ask(&Query::GetMint(MintParam { mint: stranger }))
        .await;
    assert_eq!(error_code(&r), Some(ErrorCode::NotFound));
    assert_eq!(r.result_type, Some(Method::GetMint));
}

async fn search(wallet: &mut Wallet, db: &TestDb, sim: &Simulation) {
    let total = db.count("mints").await as usize;
    let mut seen: Vec<(String, Option<u8>)> = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page: DirectoryPage = wallet
            .ok(&Query::SearchMints(DirectoryQuery {
                limit: Some(3),
                cursor: cursor.clone(),
                ..DirectoryQuery::default()
            }))
            .await;
        pages += 1;
        assert!(page.mints.len() <= 3);
        seen.extend(page.mints.iter().map(|m| (m.key.clone(), m.rank)));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
        assert!(pages <= total, "paging does not end");
    }
    let keys: BTreeSet<_> = seen.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(keys.len(), seen.len(), "a mint appears on two pages");
    assert_eq!(keys.len(), total, "paging missed mints");
    assert!(pages >= total / 3, "{pages} pages for {total} mints");
    let ranks: Vec<i32> = seen.iter().map(|(_, r)| r.map_or(-1, i32::from)).collect();
    assert!(
        ranks.windows(2).all(|w| w[0] >= w[1]),
        "not sorted by rank: {ranks:?}"
    );

    // Filters: a minimum rank, an identity level, a name.
    let floor = ranks[ranks.len() / 2].max(0) as u8;
    let page: DirectoryPage = wallet
        .ok(&Query::SearchMints(DirectoryQuery {
            min_rank: Some(floor),
            limit: Some(200),
            ..DirectoryQuery::default()
        }))
        .await;
    let want = ranks.iter().filter(|r| **r >= i32::from(floor)).count();
    assert_eq!(page.mints.len(), want);
    assert!(page
        .mints
        .iter()
        .all(|m| m.rank.is_some_and(|r| r >= floor)));

    let page: DirectoryPage = wallet
        .ok(&Query::SearchMints(DirectoryQuery {
            identity: Some(IdentityLevel::SelfSigned),
            sort: Sort::Name,
            limit: Some(200),
            ..DirectoryQuery::default()
        }))
        .await;
    let want = sim
        .stats
        .values()
        .filter(|s| s.identity == IdentityLevel::SelfSigned)
        .count();
    assert_eq!(page.mints.len(), want);
    assert!(page
        .mints
        .iter()
        .all(|m| m.identity == IdentityLevel::SelfSigned));

    let named = sim
        .stats
        .values()
        .find(|s| s.identity == IdentityLevel::SelfSigned)
        .expect("a self-signed mint");
    let page: DirectoryPage = wallet
        .ok(&Query::SearchMints(DirectoryQuery {
            q: Some(named.name.clone()),
            ..DirectoryQuery::default()
        }))
        .await;
    assert!(
        page.mints.iter().any(|m| m.key == named.mint.to_hex()),
        "searching {:?} does not find it",
        named.name
    );

    // A cursor of another sort order is a bad request.
    let r = wallet
        .ask(&Query::SearchMints(DirectoryQuery {
            sort: Sort::Name,
            cursor: Some(format!("rank:{}", named.mint.to_hex())),
            ..DirectoryQuery::default()
        }))
        .await;
    assert_eq!(error_code(&r), Some(ErrorCode::BadRequest));
}

/// (finding, mint, proving events) of a verified label.
type Proven = (FindingKind, MintKey, BTreeSet<EventId>);

fn verified(label: &SignedEvent, service: &PublicKey) -> Proven {
    let v = verify_evidence_label(label).expect("the label verifies on its own");
    assert_eq!(v.recheck, Recheck::Confirmed);
    assert_eq!(&v.indexer, service.as_bytes(), "signed by another key");
    (v.finding, v.mint, v.events.iter().map(|e| e.id).collect())
}

fn expected_findings(sim: &Simulation) -> BTreeSet<Proven> {
    sim.expected
        .iter()
        .map(|f| (f.kind, f.mint, f.events.clone()))
        .collect()
}

/// Every mint's evidence, page by page (the service answers one label per page here), following
/// `next` until it is absent.
async fn get_evidence(wallet: &mut Wallet, sim: &Simulation) {
    let service = wallet.service;
    let mut proven = BTreeSet::new();
    let mut pages = 0;
    for (key, s) in &sim.stats {
        let mut offset = None;
        loop {
            let result: EvidenceResult = wallet
                .ok(&Query::GetEvidence(EvidenceQuery { mint: *key, offset }))
                .await;
            pages += 1;
            assert!(
                result.omitted.is_empty() && result.not_listed == 0,
                "{}: {:?}",
                s.name,
                result.omitted
            );
            assert!(result.labels.len() <= 1, "one label per page");
            for label in &result.labels {
                let label = SignedEvent::from_value(label).expect("an event");
                let p = verified(&label, &service);
                assert_eq!(p.1, *key, "a label of another mint");
                assert!(proven.insert(p), "a label on two pages");
            }
            match result.next {
                Some(next) => {
                    assert!(offset.is_none_or(|o| next > o), "pages advance");
                    offset = Some(next);
                }
                None => break,
            }
        }
    }
    assert_eq!(proven, expected_findings(sim));
    assert!(
        pages > sim.stats.len(),
        "some mint's evidence took more than one page"
    );
}

async fn bad_requests(wallet: &mut Wallet, relay: &TestRelay) {
    // Not NIP-44 at all.
    let keys = Keys::generate();
    let id = wallet.raw(&keys, "garbage, not encrypted".into()).await;
    let r = wallet.responses(&[id]).await.remove(0);
    assert_eq!(error_code(&r), Some(ErrorCode::BadRequest));
    assert_eq!(r.result_type, None);
    // Encrypted, but not JSON; JSON with bad params; an unknown method.
    let r = wallet.encrypted("{not json").await;
    assert_eq!(error_code(&r), Some(ErrorCode::BadRequest));
    let r = wallet
        .encrypted(r#"{"method":"get_mint","params":{"mint":"xyz"}}"#)
        .await;
    assert_eq!(error_code(&r), Some(ErrorCode::BadRequest));
    let r = wallet
        .encrypted(r#"{"method":"search_mints","params":{"limit":201}}"#)
        .await;
    assert_eq!(error_code(&r), Some(ErrorCode::BadRequest));
    let r = wallet
        .encrypted(r#"{"method":"get_weather","params":{}}"#)
        .await;
    assert_eq!(error_code(&r), Some(ErrorCode::NotImplemented));
    // Encrypted to another key: undecryptable for the service.
    let other = Keys::generate();
    let keys = Keys::generate();
    let ck = ConversationKey::from_keys(&keys, &other.public_key()).expect("ck");
    let content = nip44::encrypt(&ck, br#"{"method":"get_mint","params":{}}"#).expect("enc");
    let id = wallet.raw(&keys, content).await;
    let r = wallet.responses(&[id]).await.remove(0);
    assert_eq!(error_code(&r), Some(ErrorCode::BadRequest));
    // The service is still up: the relay still carries its info and it still answers.
    let info = wallet.published(SERVICE_INFO).await;
    assert_eq!(info.len(), 1);
    let methods = parse_service_info(&info[0]).expect("service info");
    assert_eq!(methods, Method::ALL.to_vec());
    assert!(!relay.url.is_empty());
}

async fn flood(wallet: &mut Wallet, sim: &Simulation, handle: &NostrHandle) {
    let mint = *sim.stats.keys().next().expect("a mint");
    let query = Query::GetMint(MintParam { mint });
    let flooder = Keys::generate();
    let before = handle.stats();
    let mut ids = Vec::new();
    for _ in 0..12 {
        let request = build_request(&flooder, &wallet.service, &query).expect("builds");
        ids.push(wallet.send(&flooder, &request).await);
    }
    // Sentinel: every one of the 12 was either answered or counted as ignored.
    let handled = wait_for(WAIT, || async {
        let s = handle.stats();
        s.responses - before.responses + s.ignored - before.ignored >= 12
    })
    .await;
    assert!(handled, "not every request handled: {:?}", handle.stats());
    let s = handle.stats();
    let (told, ignored) = (
        s.rate_limited - before.rate_limited,
        s.ignored - before.ignored,
    );
    assert_eq!(told, 1, "told RATE_LIMITED once, then ignored");
    assert!(ignored >= 12 - 5 - 1, "only {ignored} of 12 ignored");
    // The answered ones are the first (the service reads requests in order).
    let answered = (12 - ignored) as usize;
    let answers = wallet.responses(&ids[..answered]).await;
    let limited = answers
        .iter()
        .filter(|r| error_code(r) == Some(ErrorCode::RateLimited))
        .count();
    let served = answers.iter().filter(|r| r.error.is_none()).count();
    assert_eq!(limited, 1);
    assert!(
        (1..=5).contains(&served),
        "{served} served within a burst of 4"
    );
    // Another requester is still served meanwhile.
    let report: MintReport = wallet.ok(&query).await;
    assert_eq!(report.key, mint.to_hex());
}

async fn published_outputs(
    wallet: &Wallet,
    handle: &NostrHandle,
    db: &TestDb,
    sim: &Simulation,
) -> BTreeMap<MintKey, u8> {
    let mints = db.count("mints").await as u64;
    let expected = expected_findings(sim);
    let ok = wait_for(WAIT, || async {
        let s = handle.stats();
        s.assertions >= mints && s.labels >= expected.len() as u64
    })
    .await;
    assert!(ok, "not everything was published: {:?}", handle.stats());

    let mut ranks = BTreeMap::new();
    for a in wallet.published(ASSERTION).await {
        a.verify().expect("assertion verifies");
        let parsed = parse_assertion(&a).expect("assertion parses");
        let rank: Option<f32> = sqlx::query_scalar("SELECT rank FROM mints WHERE key = $1")
            .bind(parsed.mint.as_bytes().to_vec())
            .fetch_one(db.store.pool())
            .await
            .expect("mint row");
        assert_eq!(
            Some(f32::from(parsed.rank)),
            rank,
            "rank tag of {}",
            parsed.mint
        );
        if let Some(s) = sim.stats.get(&parsed.mint) {
            assert_eq!(
                parsed.burns,
                s.groups.values().map(|t| t.burn_count).sum::<u64>()
            );
            let want = sim
                .expected
                .iter()
                .filter(|f| f.mint == parsed.mint && f.kind == FindingKind::DoubleSpend)
                .count() as u64;
            assert_eq!(parsed.double_spends, want);
        }
        assert!(
            ranks.insert(parsed.mint, parsed.rank).is_none(),
            "two live assertions"
        );
    }
    assert_eq!(ranks.len() as u64, mints, "an assertion per mint");

    let labels: BTreeSet<Proven> = wallet
        .published(LABEL)
        .await
        .iter()
        .map(|l| verified(l, &wallet.service))
        .collect();
    assert_eq!(
        labels, expected,
        "labels on the relay differ from the findings"
    );
    assert_eq!(
        handle.stats().labels,
        expected.len() as u64,
        "a label published twice"
    );
    ranks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_gets_true_answers_and_the_relay_gets_every_assertion_and_label() {
    let Indexed { sim, relay, db, .. } = indexed_small_simulation(21).await;

    let keys = Keys::generate();
    let handle = service_config(&relay.url, &keys, Duration::from_secs(3600))
        .start(db.store.clone())
        .await
        .expect("nostr outputs start");
    assert_eq!(handle.public_key(), keys.public_key());
    let mut wallet = Wallet::connect(&relay.url, keys.public_key()).await;
    assert!(
        wait_for(WAIT, || async {
            !wallet.published(SERVICE_INFO).await.is_empty()
        })
        .await,
        "no service info"
    );

    let ranks = published_outputs(&wallet, &handle, &db, &sim).await;
    check_spent(&mut wallet, &sim).await;
    get_mint(&mut wallet, &sim).await;
    search(&mut wallet, &db, &sim).await;
    get_evidence(&mut wallet, &sim).await;
    bad_requests(&mut wallet, &relay).await;
    flood(&mut wallet, &sim, &handle).await;

    // New numbers for one mint: within the interval nothing is re-published...
    let (changed, old) = ranks.iter().next().map(|(k, r)| (*k, *r)).expect("a mint");
    let new_rank = if old == 42 { 43 } else { 42 };
    sqlx::query("UPDATE mints SET rank = $1 WHERE key = $2")
        .bind(f32::from(new_rank))
        .bind(changed.as_bytes().to_vec())
        .execute(db.store.pool())
        .await
        .expect("rank changed");
    let before = handle.stats();
    // The sentinel: two more scans, so a whole scan started after the change and read it (the
    // first may have read the reports before it).
    assert!(
        wait_for(WAIT, || async { handle.stats().scans >= before.scans + 2 }).await,
        "the publisher stopped scanning"
    );
    assert_eq!(
        handle.stats().assertions,
        before.assertions,
        "re-published within the interval"
    );
    let live = |events: Vec<SignedEvent>| -> u8 {
        events
            .iter()
            .map(|e| parse_assertion(e).expect("parses"))
            .find(|a| a.mint == changed)
            .expect("assertion of the changed mint")
            .rank
    };
    assert_eq!(live(wallet.published(ASSERTION).await), old);
    handle.stop().await;

    // ...and a restart with a short interval learns what it already published from the relay:
    // only the changed assertion goes out, and no label again.
    let handle = service_config(&relay.url, &keys, Duration::ZERO)
        .start(db.store.clone())
        .await
        .expect("restarts");
    assert!(
        wait_for(WAIT, || async { handle.stats().assertions >= 1 }).await,
        "the changed assertion was not re-published"
    );
    // The sentinel: a whole scan after the one that published, which must publish nothing more.
    let published = handle.stats();
    assert!(
        wait_for(WAIT, || async {
            handle.stats().scans >= published.scans + 2
        })
        .await,
        "the publisher stopped scanning"
    );
    let after = handle.stats();
    assert_eq!(
        (after.assertions, after.labels),
        (1, 0),
        "re-published unchanged outputs"
    );
    assert_eq!(live(wallet.published(ASSERTION).await), new_rank);
    handle.stop().await;

    wallet.client.shutdown().await;
    relay.shutdown();
    db.drop().await;
}

/// A relay that accepts connections and reads everything, and never answers anything: no `OK`
/// to an event, no `EOSE` to a subscription.
async fn black_hole_relay() -> String {
    use futures::StreamExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await {
                    while let Some(Ok(_)) = ws.next().await {}
                }
            });
        }
    });
    format!("ws://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_that_never_answers_ok_does_not_hold_back_the_outputs_to_the_others() {
    let Indexed { relay, db, .. } = indexed_small_simulation(22).await;
    let mints = db.count("mints").await as u64;
    let hole = black_hole_relay().await;

    let keys = Keys::generate();
    let handle = NostrService {
        relays: vec![hole, relay.url.clone()],
        ..service_config(&relay.url, &keys, Duration::from_secs(3600))
    }
    .start(db.store.clone())
    .await
    .expect("nostr outputs start");
    // Each event waited 10 s for the silent relay before: the assertions of these mints took
    // minutes. Now each goes as soon as the honest relay accepts it.
    let wallet = Wallet::connect(&relay.url, keys.public_key()).await;
    let published = wait_for(WAIT, || async {
        wallet.published(ASSERTION).await.len() as u64 >= mints
    })
    .await;
    assert!(
        published,
        "{} of {mints} assertions on the honest relay: {:?}",
        wallet.published(ASSERTION).await.len(),
        handle.stats()
    );
    assert_eq!(handle.stats().send_failures, 0);
    handle.stop().await;
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_publisher_forgets_the_labels_of_findings_no_longer_open() {
    let Indexed { sim, relay, db, .. } = indexed_small_simulation(23).await;
    let open = expected_findings(&sim).len();
    assert!(open > 0);

    let client = Client::default();
    client.add_relay(relay.url.as_str()).await.expect("relay");
    client.connect().await;
    client.wait_for_connection(Duration::from_secs(5)).await;
    let mut publisher = Publisher::new(
        db.store.clone(),
        Keys::generate(),
        client,
        Duration::from_secs(3600),
        Arc::new(OutputStats::default()),
    );
    let first = publisher.scan().await.expect("scan");
    assert!(first.full, "the first scan reads everything");
    let (assertions, labels) = publisher.remembered();
    assert_eq!(labels, open, "a label per open finding");
    assert!(assertions > 0);
    assert_eq!(first.findings_read, open as u64);

    // Nothing changed since the last scan's watermark: the next scan reads no report and no
    // finding (the index's size does not set its cost).
    let sql = |q: &'static str| {
        let pool = db.store.pool().clone();
        async move { sqlx::query(q).execute(&pool).await.expect(q) }
    };
    sql("UPDATE mints SET updated_at = now() - interval '1 hour',
                         ranked_at = now() - interval '1 hour'")
    .await;
    sql("UPDATE findings SET updated_at = now() - interval '1 hour'").await;
    let quiet = publisher.scan().await.expect("scan");
    assert!(!quiet.full);
    assert_eq!(
        (quiet.reports_read, quiet.findings_read),
        (0, 0),
        "{quiet:?}"
    );
    assert_eq!((quiet.assertions, quiet.labels), (0, 0));

    // One mint re-ranked: only its report is read.
    sql("UPDATE mints SET ranked_at = now() WHERE key = (SELECT key FROM mints ORDER BY key LIMIT 1)").await;
    let one = publisher.scan().await.expect("scan");
    assert_eq!(one.reports_read, 1, "{one:?}");

    // Findings resolved as the analyze stage resolves them (their timestamp moves): forgotten.
    sql("UPDATE findings SET resolved = true, updated_at = now() WHERE NOT resolved").await;
    let resolved = publisher.scan().await.expect("scan");
    assert_eq!(resolved.findings_read, open as u64);
    assert_eq!(
        publisher.remembered(),
        (assertions, 0),
        "resolved findings forgotten"
    );
    db.drop().await;
}
