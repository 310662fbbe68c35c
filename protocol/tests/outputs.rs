//! The events mintwatch publishes (PROTOCOL.md §5): assertions, evidence labels, the query
//! service. Every check here is run against something that could fail: a tampered label, a wrong
//! recipient, garbage ciphertext.

use mintwatch_protocol::broadcast::{BurnEntry, CashuData, DataGroup, GroupContents};
use mintwatch_protocol::kinds;
use mintwatch_protocol::output::nip44::{self, ConversationKey};
use mintwatch_protocol::output::{
    build_assertion, build_evidence_label, build_request, build_response, build_service_info,
    open_request, open_response, parse_assertion, parse_service_info, verify_evidence_label,
    verify_evidence_label_structure, verify_evidence_label_with, BuildError, CheckSpent,
    DirectoryQuery, ErrorCode, Evidence, EvidenceError, EvidenceQuery, Method, MintAssertion,
    MintParam, OpenError, Query, Recheck, Response, Sort,
};
use mintwatch_protocol::{
    Amount, Epoch, EventId, FindingKind, IdentityLevel, MintKey, MintUrl, Network, Point,
    SignedEvent, Unit, VerifyError,
};
use nostr::{EventBuilder, Keys, Kind, Tag};
use serde_json::json;

fn signed(keys: &Keys, kind: u16, tags: Vec<Vec<String>>, content: &str) -> SignedEvent {
    let tags: Vec<Tag> = tags
        .into_iter()
        .map(|t| Tag::parse(t).expect("tag"))
        .collect();
    let e = EventBuilder::new(Kind::Custom(kind), content)
        .tags(tags)
        .sign_with_keys(keys)
        .expect("sign");
    SignedEvent::from(&e)
}

/// Re-signs an event's (possibly edited) tags and content with `keys`, so a test can isolate
/// one check from the label's own signature.
fn resign(keys: &Keys, e: &SignedEvent) -> SignedEvent {
    signed(keys, e.kind, e.tags.clone(), &e.content)
}

fn mint_key(keys: &Keys) -> MintKey {
    MintKey::from_x_only_bytes(keys.public_key().to_bytes()).expect("mint key")
}

fn point(seed: u8) -> Point {
    let sk = secp256k1::SecretKey::from_slice(&[seed; 32]).expect("secret");
    Point::from_public_key(&secp256k1::PublicKey::from_secret_key(
        secp256k1::SECP256K1,
        &sk,
    ))
}

fn sample_assertion(mint: MintKey) -> MintAssertion {
    MintAssertion {
        mint,
        rank: 87,
        identity: IdentityLevel::SelfSigned,
        burns: 12_345,
        mints: 23_456,
        outstanding: vec![
            (Unit::parse("sat").expect("unit"), 1_000_000),
            (Unit::parse("usd").expect("unit"), -42),
        ],
        double_spends: 0,
        forks: 1,
        gaps: 2,
        liability_inversions: 3,
        reviews: 9,
        rating: Some(4.25),
        last_seen: Some(1_750_000_000),
        urls: vec![
            MintUrl::parse("https://mint.example.com").expect("url"),
            MintUrl::parse("http://mint2.example.com/path").expect("url"),
        ],
    }
}

#[test]
fn assertion_round_trips_with_the_documented_tags() {
    let indexer = Keys::generate();
    let mint = mint_key(&Keys::generate());
    let a = sample_assertion(mint);
    let event = build_assertion(&indexer, &a).expect("build");
    assert_eq!(event.verify(), Ok(()));
    assert_eq!(event.kind, kinds::ASSERTION);
    assert_eq!(event.pubkey, indexer.public_key().to_bytes());
    let names: Vec<&str> = event.tags.iter().map(|t| t[0].as_str()).collect();
    assert_eq!(
        names,
        [
            "d",
            "rank",
            "identity",
            "burns",
            "mints",
            "outstanding",
            "outstanding",
            "double_spends",
            "forks",
            "gaps",
            "liability_inversions",
            "reviews",
            "rating",
            "last_seen",
            "u",
            "u"
        ]
    );
    assert_eq!(event.tag_value("d"), Some(mint.to_hex().as_str()));
    assert_eq!(event.tag_value("rank"), Some("87"));
    assert_eq!(event.tag_value("identity"), Some("self-signed"));
    let usd: Vec<&[String]> = event.tags_named("outstanding").collect();
    assert_eq!(usd[1], ["-42".to_string(), "usd".to_string()]);
    assert_eq!(parse_assertion(&event).expect("parse"), a);

    // Optional components are left out, and still round-trip.
    let mut bare = a.clone();
    bare.rating = None;
    bare.last_seen = None;
    bare.outstanding.clear();
    bare.urls.clear();
    let e2 = build_assertion(&indexer, &bare).expect("build");
    assert!(e2.tag("rating").is_none() && e2.tag("u").is_none());
    assert_eq!(parse_assertion(&e2).expect("parse"), bare);
}

#[test]
fn assertion_refuses_bad_input_and_bad_events() {
    let indexer = Keys::generate();
    let a = sample_assertion(mint_key(&Keys::generate()));
    let mut high = a.clone();
    high.rank = 101;
    assert!(matches!(
        build_assertion(&indexer, &high),
        Err(BuildError::Invalid(_))
    ));
    let mut nan = a.clone();
    nan.rating = Some(f64::NAN);
    assert!(build_assertion(&indexer, &nan).is_err());
    let mut dup = a.clone();
    dup.outstanding.push((Unit::parse("sat").expect("unit"), 1));
    assert!(build_assertion(&indexer, &dup).is_err());

    let good = build_assertion(&indexer, &a).expect("build");
    let edit = |f: &dyn Fn(&mut Vec<Vec<String>>)| {
        let mut tags = good.tags.clone();
        f(&mut tags);
        signed(&indexer, kinds::ASSERTION, tags, "")
    };
    let set = |name: &'static str, value: &'static str| {
        move |tags: &mut Vec<Vec<String>>| {
            for t in tags.iter_mut().filter(|t| t[0] == name) {
                t[1] = value.to_string();
            }
        }
    };
    for (field, bad) in [
        ("rank", edit(&set("rank", "101"))),
        ("rank", edit(&set("rank", "high"))),
        ("identity", edit(&set("identity", "trusted"))),
        ("burns", edit(&set("burns", "-1"))),
        ("rating", edit(&set("rating", "NaN"))),
        ("d", edit(&set("d", "abcd"))),
        ("forks", edit(&|t| t.retain(|t| t[0] != "forks"))),
        ("rank", edit(&|t| t.push(vec!["rank".into(), "3".into()]))),
    ] {
        let err = parse_assertion(&bad).expect_err(field);
        assert!(err.field.starts_with(field), "{field}: {err}");
    }
    let mut other = good.clone();
    other.kind = 1;
    assert!(parse_assertion(&other).is_err());
}

struct Scene {
    indexer: Keys,
    mint: Keys,
    other: Keys,
    y: Point,
    batches: Vec<SignedEvent>,
}

/// A 4919 by `keys` burning `ys` (8 sat each, epoch 0), naming `prev`.
fn burning(keys: &Keys, ys: &[Point], prev: Option<EventId>) -> SignedEvent {
    let content = CashuData {
        groups: vec![DataGroup {
            epoch: Epoch::new(0).expect("epoch"),
            unit: Unit::parse("sat").expect("unit"),
            contents: GroupContents::Burn(
                ys.iter()
                    .map(|y| BurnEntry {
                        y: *y,
                        amount: Amount::new(8).expect("amount"),
                    })
                    .collect(),
            ),
        }],
        prev,
    }
    .encode_content();
    let tags = prev
        .map(|p| vec!["e".to_string(), p.to_hex()])
        .into_iter()
        .collect();
    signed(keys, kinds::CASHU_DATA, tags, &content)
}

fn scene() -> Scene {
    let mint = Keys::generate();
    let other = Keys::generate();
    let y = point(3);
    // The mint burns `y` in two batches: a double-spend the re-check can see.
    let batches = vec![
        burning(&mint, &[point(4), y], None),
        burning(&mint, &[y], None),
    ];
    Scene {
        indexer: Keys::generate(),
        mint,
        other,
        y,
        batches,
    }
}

fn double_spend(s: &Scene) -> Evidence {
    Evidence {
        finding: FindingKind::DoubleSpend,
        mint: mint_key(&s.mint),
        y: Some(s.y),
        events: s.batches.clone(),
        detail: Some(json!({"unit": "sat", "epoch": 0})),
    }
}

#[test]
fn evidence_label_verifies_on_its_own() {
    let s = scene();
    let label = build_evidence_label(&s.indexer, &double_spend(&s)).expect("build");
    assert_eq!(label.kind, kinds::LABEL);
    assert_eq!(label.tag_value("L"), Some("cashu.mintwatch"));
    assert_eq!(
        label.tag("l").expect("l"),
        ["double-spend".to_string(), "cashu.mintwatch".to_string()]
    );
    assert_eq!(
        label.tag_value("p"),
        Some(mint_key(&s.mint).to_hex().as_str())
    );
    let e_tags: Vec<String> = label.tags_named("e").map(|v| v[0].clone()).collect();
    let ids: Vec<String> = s.batches.iter().map(|e| e.id.to_hex()).collect();
    assert_eq!(e_tags, ids);

    // Only the JSON text travels: parse it back as a relay would deliver it.
    let received = SignedEvent::from_json(&label.to_json()).expect("parse");
    let v = verify_evidence_label(&received).expect("verifies");
    assert_eq!(v.finding, FindingKind::DoubleSpend);
    assert_eq!(v.mint, mint_key(&s.mint));
    assert_eq!(v.y, Some(s.y));
    assert_eq!(v.events, s.batches);
    assert_eq!(v.detail, Some(json!({"unit": "sat", "epoch": 0})));
    assert_eq!(v.indexer, s.indexer.public_key().to_bytes());
    assert_eq!(v.recheck, Recheck::Confirmed);
    let structural = verify_evidence_label_structure(&received).expect("verifies");
    assert_eq!(structural.recheck, Recheck::NotChecked);

    // The same event twice is embedded once.
    let mut twice = double_spend(&s);
    twice.events.push(s.batches[0].clone());
    let l2 = build_evidence_label(&s.indexer, &twice).expect("build");
    assert_eq!(l2.tags_named("e").count(), 2);
}

fn content_value(label: &SignedEvent) -> serde_json::Value {
    serde_json::from_str(&label.content).expect("content JSON")
}

#[test]
fn evidence_label_fails_when_tampered() {
    let s = scene();
    let label = build_evidence_label(&s.indexer, &double_spend(&s)).expect("build");

    // The label's own signature.
    let mut bad_sig = label.clone();
    bad_sig.sig[5] ^= 1;
    assert_eq!(
        verify_evidence_label(&bad_sig),
        Err(EvidenceError::LabelSignature(VerifyError::BadSignature))
    );
    let mut edited = label.clone();
    edited.content.push(' ');
    assert_eq!(
        verify_evidence_label(&edited),
        Err(EvidenceError::LabelSignature(VerifyError::IdMismatch))
    );

    // An embedded event, with the label re-signed so only the embedded check can catch it.
    let mut c = content_value(&label);
    c["events"][1]["content"] = json!("batch 2");
    let mut forged = label.clone();
    forged.content = c.to_string();
    assert_eq!(
        verify_evidence_label(&resign(&s.indexer, &forged)),
        Err(EvidenceError::EmbeddedEvent {
            index: 1,
            error: VerifyError::IdMismatch
        })
    );
    let mut c = content_value(&label);
    let sig = c["events"][0]["sig"].as_str().expect("sig").to_string();
    let flipped = format!(
        "{}{}",
        if sig.starts_with('0') { "1" } else { "0" },
        &sig[1..]
    );
    c["events"][0]["sig"] = json!(flipped);
    forged.content = c.to_string();
    assert!(matches!(
        verify_evidence_label(&resign(&s.indexer, &forged)),
        Err(EvidenceError::EmbeddedEvent { index: 0, .. })
    ));

    // An e tag: replaced, dropped, or added.
    let other_id = signed(&s.mint, kinds::CASHU_DATA, vec![], "unrelated").id;
    for edit in [
        Box::new(|t: &mut Vec<Vec<String>>| {
            if let Some(e) = t.iter_mut().find(|t| t[0] == "e") {
                e[1] = other_id.to_hex();
            }
        }) as Box<dyn Fn(&mut Vec<Vec<String>>)>,
        Box::new(|t: &mut Vec<Vec<String>>| {
            let i = t.iter().position(|t| t[0] == "e").expect("e");
            t.remove(i);
        }),
        Box::new(|t: &mut Vec<Vec<String>>| t.push(vec!["e".into(), other_id.to_hex()])),
        Box::new(|t: &mut Vec<Vec<String>>| {
            let first = t.iter().position(|t| t[0] == "e").expect("e");
            t.swap(first, first + 1);
        }),
    ] {
        let mut tampered = label.clone();
        edit(&mut tampered.tags);
        assert!(matches!(
            verify_evidence_label(&resign(&s.indexer, &tampered)),
            Err(EvidenceError::EventTags(_))
        ));
    }

    // The p: another valid key (events are not by it), and not a key at all.
    let mut wrong_p = label.clone();
    for t in wrong_p.tags.iter_mut().filter(|t| t[0] == "p") {
        t[1] = s.other.public_key().to_hex();
    }
    assert!(matches!(
        verify_evidence_label(&resign(&s.indexer, &wrong_p)),
        Err(EvidenceError::Authorship(_))
    ));
    for t in wrong_p.tags.iter_mut().filter(|t| t[0] == "p") {
        t[1] = format!("{:064x}", 5);
    }
    assert!(matches!(
        verify_evidence_label(&resign(&s.indexer, &wrong_p)),
        Err(EvidenceError::Tag { tag: "p", .. })
    ));

    // The l tag and the content must name the same finding.
    let mut wrong_l = label.clone();
    for t in wrong_l.tags.iter_mut().filter(|t| t[0] == "l") {
        t[1] = "fork".into();
    }
    assert!(matches!(
        verify_evidence_label(&resign(&s.indexer, &wrong_l)),
        Err(EvidenceError::FindingMismatch { .. })
    ));

    // Content that is not JSON.
    let mut junk = label.clone();
    junk.content = "not json".into();
    assert!(matches!(
        verify_evidence_label(&resign(&s.indexer, &junk)),
        Err(EvidenceError::Content(_))
    ));
}

#[test]
fn evidence_authorship_follows_the_finding() {
    let s = scene();
    // A double-spend proven by someone else's event is refused at build time.
    let mut foreign = double_spend(&s);
    foreign.events[1] = signed(&s.other, kinds::CASHU_DATA, vec![], "theirs");
    assert!(matches!(
        build_evidence_label(&s.indexer, &foreign),
        Err(BuildError::Evidence(EvidenceError::Authorship(_)))
    ));
    let mut no_y = double_spend(&s);
    no_y.y = None;
    assert!(build_evidence_label(&s.indexer, &no_y).is_err());
    let mut wrong_kind = double_spend(&s);
    wrong_kind.events[0] = signed(&s.mint, 1, vec![], "a note");
    assert!(build_evidence_label(&s.indexer, &wrong_kind).is_err());

    // A cross-mint collision: two keys, one of them p.
    let theirs = burning(&s.other, &[s.y], None);
    let collision = Evidence {
        finding: FindingKind::CrossMintCollision,
        mint: mint_key(&s.mint),
        y: Some(s.y),
        events: vec![s.batches[0].clone(), theirs.clone()],
        detail: None,
    };
    let label = build_evidence_label(&s.indexer, &collision).expect("build");
    let v = verify_evidence_label(&label).expect("verifies");
    assert_eq!(v.finding, FindingKind::CrossMintCollision);
    assert_eq!(v.detail, None);
    let mut one_key = collision.clone();
    one_key.events = s.batches.clone();
    assert!(build_evidence_label(&s.indexer, &one_key).is_err());
    let mut third_p = collision.clone();
    third_p.mint = mint_key(&Keys::generate());
    assert!(build_evidence_label(&s.indexer, &third_p).is_err());

    // A fork needs two events.
    let prev = s.batches[0].id;
    let mut fork = Evidence {
        finding: FindingKind::Fork,
        mint: mint_key(&s.mint),
        y: None,
        events: vec![
            burning(&s.mint, &[point(5)], Some(prev)),
            burning(&s.mint, &[point(6)], Some(prev)),
        ],
        detail: None,
    };
    assert!(build_evidence_label(&s.indexer, &fork).is_ok());
    fork.events.truncate(1);
    assert!(build_evidence_label(&s.indexer, &fork).is_err());

    // An identity mismatch is proven by the mint's 11467.
    let info = signed(
        &s.mint,
        kinds::MINT_INFO,
        vec![],
        &json!({"pubkey": point(9).to_hex()}).to_string(),
    );
    let mismatch = Evidence {
        finding: FindingKind::IdentityMismatch,
        mint: mint_key(&s.mint),
        y: None,
        events: vec![info],
        detail: None,
    };
    assert!(build_evidence_label(&s.indexer, &mismatch).is_ok());
}

#[test]
fn evidence_recheck_hook_runs_last() {
    let s = scene();
    let label = build_evidence_label(&s.indexer, &double_spend(&s)).expect("build");
    let confirm = |f: FindingKind,
                   _: &MintKey,
                   y: Option<&Point>,
                   events: &[SignedEvent],
                   _: Option<&serde_json::Value>| {
        if f == FindingKind::DoubleSpend && y.is_some() && events.len() == 2 {
            Ok(Recheck::Confirmed)
        } else {
            Err("unexpected input".to_string())
        }
    };
    let v = verify_evidence_label_with(&label, &confirm).expect("confirmed");
    assert_eq!(v.recheck, Recheck::Confirmed);
    let refute =
        |_: FindingKind,
         _: &MintKey,
         _: Option<&Point>,
         _: &[SignedEvent],
         _: Option<&serde_json::Value>| { Err("Y is in only one BURN group".to_string()) };
    assert_eq!(
        verify_evidence_label_with(&label, &refute),
        Err(EvidenceError::Recheck("Y is in only one BURN group".into()))
    );
}

#[test]
fn service_info_lists_methods() {
    let service = Keys::generate();
    let info = build_service_info(&service, &Method::ALL).expect("build");
    assert_eq!(info.kind, kinds::SERVICE_INFO);
    assert_eq!(
        info.content,
        "check_spent get_mint search_mints get_evidence"
    );
    assert_eq!(info.tag_value("encryption"), Some("nip44_v2"));
    assert_eq!(parse_service_info(&info).expect("parse"), Method::ALL);
    let plain = signed(&service, kinds::SERVICE_INFO, vec![], "get_mint");
    assert!(parse_service_info(&plain).is_err());
}

#[test]
fn request_response_round_trip() {
    let wallet = Keys::generate();
    let service = Keys::generate();
    let mint = mint_key(&Keys::generate());
    let queries = [
        Query::CheckSpent(CheckSpent {
            ys: vec![point(1), point(2)],
            mint: Some(mint),
        }),
        Query::CheckSpent(CheckSpent {
            ys: vec![point(9)],
            mint: None,
        }),
        Query::GetMint(MintParam { mint }),
        Query::GetEvidence(EvidenceQuery { mint, offset: None }),
        Query::GetEvidence(EvidenceQuery {
            mint,
            offset: Some(40),
        }),
        Query::SearchMints(DirectoryQuery {
            q: Some("minibits".into()),
            unit: Some(Unit::parse("sat").expect("unit")),
            nut: Some(17),
            network: Some(Network::Mainnet),
            identity: Some(IdentityLevel::SelfSigned),
            min_rank: Some(40),
            has_findings: Some(true),
            sort: Sort::Activity,
            limit: Some(200),
            cursor: Some("opaque".into()),
        }),
        Query::SearchMints(DirectoryQuery::default()),
    ];
    for query in queries {
        let request = build_request(&wallet, &service.public_key(), &query).expect("request");
        assert_eq!(request.kind, kinds::SERVICE_REQUEST);
        assert_eq!(request.verify(), Ok(()));
        assert_eq!(
            request.tag_value("p"),
            Some(service.public_key().to_hex().as_str())
        );
        assert!(!request.content.contains("method"), "content is encrypted");

        let (requester, opened) = open_request(&service, &request).expect("open");
        assert_eq!(requester, wallet.public_key());
        assert_eq!(opened, query);

        let result = json!({"method": query.method().as_str(), "n": 1});
        let response = build_response(&service, &request, &Response::ok(query.method(), result))
            .expect("response");
        assert_eq!(response.kind, kinds::SERVICE_RESPONSE);
        assert_eq!(
            response.tag_value("p"),
            Some(wallet.public_key().to_hex().as_str())
        );
        assert_eq!(response.tag_value("e"), Some(request.id.to_hex().as_str()));
        let got = open_response(&wallet, &response).expect("open response");
        assert_eq!(got.request, request.id);
        assert_eq!(got.service, service.public_key());
        assert_eq!(got.response.result_type, Some(query.method()));
        assert_eq!(
            got.response.result,
            Some(json!({"method": query.method().as_str(), "n": 1}))
        );
        assert_eq!(got.response.error, None);
    }
}

/// A request whose content is `body` encrypted to the service (or raw, if `encrypt` is false).
fn raw_request(wallet: &Keys, service: &Keys, body: &str, encrypt: bool) -> SignedEvent {
    let content = if encrypt {
        let ck = ConversationKey::from_keys(wallet, &service.public_key()).expect("ck");
        nip44::encrypt(&ck, body.as_bytes()).expect("encrypt")
    } else {
        body.to_string()
    };
    signed(
        wallet,
        kinds::SERVICE_REQUEST,
        vec![vec!["p".into(), service.public_key().to_hex()]],
        &content,
    )
}

#[test]
fn bad_requests_get_bad_request() {
    let wallet = Keys::generate();
    let service = Keys::generate();
    let cases = [
        (
            "garbage ciphertext",
            raw_request(&wallet, &service, "garbage!!", false),
        ),
        (
            "valid base64, wrong key",
            raw_request(&wallet, &Keys::generate(), "{}", true),
        ),
        ("not JSON", raw_request(&wallet, &service, "{method:", true)),
        (
            "no method",
            raw_request(&wallet, &service, "{\"params\":{}}", true),
        ),
        (
            "bad Y",
            raw_request(
                &wallet,
                &service,
                r#"{"method":"check_spent","params":{"Ys":["02zz"]}}"#,
                true,
            ),
        ),
        (
            "no Ys",
            raw_request(
                &wallet,
                &service,
                r#"{"method":"check_spent","params":{"Ys":[]}}"#,
                true,
            ),
        ),
        (
            "limit above 200",
            raw_request(
                &wallet,
                &service,
                r#"{"method":"search_mints","params":{"limit":201}}"#,
                true,
            ),
        ),
        (
            "bad mint key",
            raw_request(
                &wallet,
                &service,
                r#"{"method":"get_mint","params":{"mint":"abc"}}"#,
                true,
            ),
        ),
    ];
    // The wrong-key case must still be addressed to this service to reach decryption.
    let mut cases = cases.to_vec();
    let mut readdressed = cases[1].1.clone();
    for t in readdressed.tags.iter_mut().filter(|t| t[0] == "p") {
        t[1] = service.public_key().to_hex();
    }
    cases[1].1 = resign(&wallet, &readdressed);

    for (what, request) in &cases {
        let err = open_request(&service, request).expect_err(what);
        assert_eq!(err.code, ErrorCode::BadRequest, "{what}: {err}");
        assert!(!err.message.is_empty());
        // The error is answerable, and the wallet reads it.
        let response =
            build_response(&service, request, &Response::err(None, err.clone())).expect("build");
        let got = open_response(&wallet, &response).expect("open");
        assert_eq!(got.response.error, Some(err));
        assert_eq!(got.response.result, None);
    }

    let too_many = json!({
        "method": "check_spent",
        "params": {"Ys": vec![point(1).to_hex(); 1_001]}
    })
    .to_string();
    let err = open_request(&service, &raw_request(&wallet, &service, &too_many, true))
        .expect_err("1001 Ys");
    assert_eq!(err.code, ErrorCode::BadRequest);
    let unknown = raw_request(
        &wallet,
        &service,
        r#"{"method":"get_stats","params":{}}"#,
        true,
    );
    assert_eq!(
        open_request(&service, &unknown).expect_err("unknown").code,
        ErrorCode::NotImplemented
    );
    let mut forged = raw_request(&wallet, &service, "x", false);
    forged.sig[0] ^= 1;
    assert_eq!(
        open_request(&service, &forged).expect_err("sig").code,
        ErrorCode::BadRequest
    );

    // The builder refuses what the service would refuse.
    let big = Query::CheckSpent(CheckSpent {
        ys: vec![point(1); 1_001],
        mint: None,
    });
    assert!(build_request(&wallet, &service.public_key(), &big).is_err());
}

#[test]
fn wrong_recipient_cannot_decrypt() {
    let wallet = Keys::generate();
    let service = Keys::generate();
    let eve = Keys::generate();
    let query = Query::GetMint(MintParam {
        mint: mint_key(&Keys::generate()),
    });
    let request = build_request(&wallet, &service.public_key(), &query).expect("request");

    // Eve is not the p, and even ignoring the p her key does not open the content.
    assert_eq!(
        open_request(&eve, &request).expect_err("eve").code,
        ErrorCode::BadRequest
    );
    let eve_ck = ConversationKey::from_keys(&eve, &wallet.public_key()).expect("ck");
    assert_eq!(
        nip44::decrypt(&eve_ck, &request.content),
        Err(nip44::Nip44Error::InvalidMac)
    );
    let mut to_eve = request.clone();
    for t in to_eve.tags.iter_mut().filter(|t| t[0] == "p") {
        t[1] = eve.public_key().to_hex();
    }
    let err = open_request(&eve, &resign(&wallet, &to_eve)).expect_err("eve decrypts");
    assert_eq!(err.code, ErrorCode::BadRequest);

    let response = build_response(
        &service,
        &request,
        &Response::ok(Method::GetMint, json!({"rank": 1})),
    )
    .expect("response");
    assert!(matches!(
        open_response(&eve, &response),
        Err(OpenError::Tag(_))
    ));
    let mut to_eve = response.clone();
    for t in to_eve.tags.iter_mut().filter(|t| t[0] == "p") {
        t[1] = eve.public_key().to_hex();
    }
    assert!(matches!(
        open_response(&eve, &resign(&service, &to_eve)),
        Err(OpenError::Decrypt(nip44::Nip44Error::InvalidMac))
    ));
    let mut tampered = response.clone();
    tampered.content.push('A');
    assert!(matches!(
        open_response(&wallet, &tampered),
        Err(OpenError::Signature(_))
    ));
}

#[test]
fn directory_query_reads_like_the_http_api() {
    let q: DirectoryQuery = serde_json::from_value(json!({
        "q": "mint",
        "unit": "SAT",
        "nut": 17,
        "network": "bitcoin",
        "identity": "self-signed",
        "min_rank": 10,
        "sort": "reviews",
        "limit": 20,
        "cursor": "c1"
    }))
    .expect("parse");
    assert_eq!(q.unit.as_ref().map(Unit::as_str), Some("sat"));
    assert_eq!(q.network, Some(Network::Mainnet));
    assert_eq!(q.identity, Some(IdentityLevel::SelfSigned));
    assert_eq!(q.sort, Sort::Reviews);
    assert_eq!(q.effective_limit(), 20);
    assert_eq!(q.validate(), Ok(()));
    let back: DirectoryQuery =
        serde_json::from_value(serde_json::to_value(&q).expect("ser")).expect("de");
    assert_eq!(back, q);

    let empty: DirectoryQuery = serde_json::from_value(json!({})).expect("parse");
    assert_eq!(empty.sort, Sort::Rank);
    assert_eq!(empty.effective_limit(), DirectoryQuery::DEFAULT_LIMIT);
    for bad in [
        json!({"network": "liquid"}),
        json!({"identity": "trusted"}),
        json!({"unit": "s a t"}),
        json!({"sort": "price"}),
    ] {
        assert!(
            serde_json::from_value::<DirectoryQuery>(bad.clone()).is_err(),
            "{bad}"
        );
    }
    for bad in [
        json!({"limit": 0}),
        json!({"limit": 201}),
        json!({"min_rank": 101}),
    ] {
        let q: DirectoryQuery = serde_json::from_value(bad.clone()).expect("parse");
        assert!(q.validate().is_err(), "{bad}");
    }
}
