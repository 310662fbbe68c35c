//! The parsers of every kind mintwatch reads (PROTOCOL.md §2): real NIP-87 events from the
//! vectors, then events signed here for every tolerance and every refusal.

mod common;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ciborium::Value as Cbor;
use mintwatch_protocol::broadcast::{
    BurnEntry, CashuData, DataGroup, FinEpoch, GroupContents, MintEntry, MintInfo,
};
use mintwatch_protocol::kinds::{MAX_BATCH_ENTRIES, MAX_EVENT_JSON_BYTES};
use mintwatch_protocol::nip87::{
    AnnouncedMint, Deletion, FedimintAnnouncement, MintAnnouncement, Recommendation, ReviewTarget,
};
use mintwatch_protocol::{
    Amount, Epoch, EventId, MintKey, MintUrl, Network, ParseError, Point, Reason, SignedEvent, Unit,
};
use nostr::{EventBuilder, Keys, Kind, Tag};
use secp256k1::{PublicKey, SecretKey, SECP256K1};

const SAMPLE: &str = "nip87-real/bitcoinmints-nip87-sample.jsonl";

// ---------------------------------------------------------------------------------------------
// Helpers

fn sign(keys: &Keys, kind: u16, tags: &[&[&str]], content: &str) -> SignedEvent {
    let tags: Vec<Tag> = tags
        .iter()
        .map(|t| Tag::parse(t.iter().copied()).expect("non-empty tag"))
        .collect();
    let event = EventBuilder::new(Kind::from(kind), content)
        .tags(tags)
        .sign_with_keys(keys)
        .expect("sign");
    let signed = SignedEvent::from(&event);
    assert_eq!(signed.verify(), Ok(()), "a freshly signed event verifies");
    signed
}

fn signed(kind: u16, tags: &[&[&str]], content: &str) -> SignedEvent {
    sign(&Keys::generate(), kind, tags, content)
}

/// A point on the curve, different for each `n` (n ≥ 1).
fn point(n: u8) -> Point {
    let sk = SecretKey::from_slice(&[n; 32]).expect("1..=255 repeated is a valid secret");
    Point::from_public_key(&PublicKey::from_secret_key(SECP256K1, &sk))
}

/// The compressed key of a nostr key pair (the NUT-06 `pubkey` form).
fn compressed(keys: &Keys) -> Point {
    Point::from_public_key(&PublicKey::from_secret_key(SECP256K1, keys.secret_key()))
}

/// `02 || x` with x = 5, which is not the x of any secp256k1 point.
fn off_curve_hex() -> String {
    format!("02{:064x}", 5)
}

fn text(s: &str) -> Cbor {
    Cbor::Text(s.to_string())
}

fn int(n: i128) -> Cbor {
    Cbor::Integer(n.try_into().expect("fits CBOR"))
}

fn cbor_map(pairs: Vec<(&str, Cbor)>) -> Cbor {
    Cbor::Map(pairs.into_iter().map(|(k, v)| (text(k), v)).collect())
}

fn b64_cbor(value: &Cbor) -> String {
    let mut bytes = Vec::new();
    ciborium::into_writer(value, &mut bytes).expect("cbor");
    B64.encode(bytes)
}

fn burn_group(entries: Vec<Cbor>) -> Cbor {
    cbor_map(vec![
        ("epoch", int(0)),
        ("event", text("BURN")),
        ("unit", text("sat")),
        ("contents", Cbor::Array(entries)),
    ])
}

fn burn_entry_text(y: &Point, amount: i128) -> Cbor {
    cbor_map(vec![("Y", text(&y.to_hex())), ("amount", int(amount))])
}

fn expect_err<T: std::fmt::Debug>(r: Result<T, ParseError>) -> ParseError {
    r.expect_err("the parser must refuse this input")
}

fn kind_of(r: Result<impl std::fmt::Debug, ParseError>) -> &'static str {
    expect_err(r).reason.label()
}

// ---------------------------------------------------------------------------------------------
// Real events (tests/vectors/nip87-real)

enum Parsed {
    Mint(MintAnnouncement),
    Fedimint(FedimintAnnouncement),
    Review(Recommendation),
}

fn sample() -> Vec<(SignedEvent, Parsed)> {
    let lines = common::load_jsonl(SAMPLE);
    assert!(!lines.is_empty(), "{SAMPLE} has no events");
    lines
        .iter()
        .map(|line| {
            let event = SignedEvent::from_json(line).expect("a real event parses as NIP-01");
            assert_eq!(event.verify(), Ok(()), "real event {} verifies", event.id);
            let parsed = match event.kind {
                38172 => Parsed::Mint(MintAnnouncement::parse(&event).expect("38172 parses")),
                38173 => {
                    Parsed::Fedimint(FedimintAnnouncement::parse(&event).expect("38173 parses"))
                }
                38000 => Parsed::Review(Recommendation::parse(&event).expect("38000 parses")),
                other => panic!("unexpected kind {other} in {SAMPLE}"),
            };
            (event, parsed)
        })
        .collect()
}

#[test]
fn real_nip87_events_all_parse_with_their_kind_parser() {
    let events = sample();
    let lines = common::load_jsonl(SAMPLE).len();
    assert_eq!(events.len(), lines);
    let count = |k: u16| events.iter().filter(|(e, _)| e.kind == k).count();
    // README: 6 mint announcements, 3 federations, 5 recommendations.
    assert_eq!(count(38172), 6);
    assert_eq!(count(38173), 3);
    assert_eq!(count(38000), 5);
    common::report(SAMPLE, events.len());
}

#[test]
fn real_bot_burst_announcements_have_opaque_d_and_nuts_0_1_2() {
    let events = sample();
    let mut bots = 0;
    let mut bot_authors = std::collections::HashSet::new();
    for (event, parsed) in &events {
        let Parsed::Mint(a) = parsed else { continue };
        let AnnouncedMint::Opaque(d) = &a.mint else {
            continue;
        };
        bots += 1;
        bot_authors.insert(event.pubkey);
        assert_eq!(Some(d.as_str()), event.tag_value("d"));
        assert_eq!(d, &a.d);
        assert_eq!(a.nuts, vec![0, 1, 2]);
        // The `u` tag survives normalisation; the NUT-06-like content gives a name.
        let u = event.tag_value("u").expect("bot events carry u");
        assert_eq!(a.urls, vec![MintUrl::parse(u).expect("valid url")]);
        let content: serde_json::Value =
            serde_json::from_str(&event.content).expect("bot content is JSON");
        assert_eq!(a.metadata.name.as_deref(), content["name"].as_str());
        assert_eq!(a.metadata.version.as_deref(), content["version"].as_str());
        assert!(a.metadata.name.is_some());
        assert_eq!(a.network, None);
        assert!(!a.names_signer(&event.pubkey));
    }
    assert_eq!(bots, 5, "README: 5 bot announcements with random d");
    assert_eq!(bot_authors.len(), 1, "README: all from one pubkey");
    common::report(SAMPLE, bots);
}

#[test]
fn real_self_announcement_names_its_signer_on_mainnet() {
    let events = sample();
    let selfs: Vec<_> = events
        .iter()
        .filter_map(|(e, p)| match p {
            Parsed::Mint(a) if a.names_signer(&e.pubkey) => Some((e, a)),
            _ => None,
        })
        .collect();
    assert_eq!(selfs.len(), 1, "README: one self-announcement");
    let (event, a) = selfs[0];
    let signer = MintKey::from_x_only_bytes(event.pubkey).expect("signer is a key");
    assert_eq!(a.mint, AnnouncedMint::Key(signer));
    assert_eq!(a.d, event.pubkey_hex());
    assert_eq!(a.network, Some(Network::Mainnet));
    assert_eq!(event.tag_value("n"), Some("mainnet"));
    let mut listed: Vec<u16> = event
        .tag_value("nuts")
        .expect("nuts")
        .split(',')
        .map(|n| n.parse().expect("number"))
        .collect();
    listed.sort_unstable();
    assert_eq!(a.nuts, listed);
    assert!(a.metadata.name.is_some());
    common::report(SAMPLE, selfs.len());
}

#[test]
fn real_fedimint_announcements() {
    let events = sample();
    let mut checked = 0;
    let (mut bitcoin, mut third, mut empty) = (0, 0, 0);
    for (event, parsed) in &events {
        let Parsed::Fedimint(f) = parsed else {
            continue;
        };
        checked += 1;
        assert_eq!(Some(f.federation_id.as_str()), event.tag_value("d"));
        let u = event.tag("u").expect("every sample federation has u");
        assert_eq!(f.invite_codes, vec![u[0].clone()]);
        if u.len() == 2 {
            third += 1;
        }
        match event.tag_value("n") {
            Some("bitcoin") => {
                bitcoin += 1;
                assert_eq!(f.network, Some(Network::Mainnet));
            }
            Some(n) => assert_eq!(f.network, Some(Network::from_tag(n))),
            None => assert_eq!(f.network, None),
        }
        match event.tag_value("modules") {
            Some(csv) => assert_eq!(f.modules, csv.split(',').collect::<Vec<_>>()),
            None => assert!(f.modules.is_empty()),
        }
        if event.content.is_empty() {
            empty += 1;
            assert_eq!(f.network, None);
            assert!(f.modules.is_empty());
        }
    }
    assert_eq!(checked, 3);
    assert_eq!(bitcoin, 1, "README: one federation says n=bitcoin");
    assert_eq!(third, 1, "README: one invite code tag has a third element");
    assert_eq!(empty, 1, "README: one federation with empty content");
    common::report(SAMPLE, checked);
}

#[test]
fn real_recommendations() {
    let events = sample();
    let mut checked = 0;
    let (mut from_tag, mut from_prefix, mut placeholder, mut u_third) = (0, 0, 0, 0);
    for (event, parsed) in &events {
        let Parsed::Review(r) = parsed else { continue };
        checked += 1;
        let k: u16 = event.tag_value("k").expect("k").parse().expect("k number");
        assert_eq!(r.target_kind, k);
        // No sample event has a usable `a`: the target is the `d`.
        let d = event.tag_value("d").expect("every sample review has d");
        assert_eq!(r.target, ReviewTarget::D(d.to_string()));
        if let Some(a) = event.tag_value("a") {
            assert!(a.contains("cashu-mint-pubkey"));
            placeholder += 1;
        }
        if event.tag("u").is_some_and(|u| u.len() == 2) {
            u_third += 1;
        }
        // The review text is the content after its `[N/5]` prefix.
        let content = event.content.trim();
        let (prefix_rating, rest) = match content.strip_prefix('[') {
            Some(p) => {
                let close = p.find(']').expect("closing bracket");
                let (n, den) = p[..close].split_once('/').expect("N/5");
                assert_eq!(den, "5");
                (Some(n.parse::<f64>().expect("N")), p[close + 1..].trim())
            }
            None => (None, content),
        };
        assert_eq!(r.text, rest);
        match event.tag("rating") {
            Some(v) => {
                assert_eq!(v.len(), 1, "README: 2-element rating tags");
                from_tag += 1;
                assert_eq!(r.rating, Some(v[0].parse::<f64>().expect("rating")));
            }
            None => {
                assert_eq!(r.rating, prefix_rating);
                if prefix_rating.is_some() {
                    from_prefix += 1;
                }
            }
        }
    }
    assert_eq!(checked, 5);
    assert!(from_tag >= 1, "some ratings come from the rating tag");
    assert!(
        from_prefix >= 1,
        "some ratings come from the [N/5] prefix only"
    );
    assert_eq!(placeholder, 1, "README: one placeholder a tag");
    assert!(u_third >= 1, "README: u tags with a third element");
    common::report(SAMPLE, checked);
}

// ---------------------------------------------------------------------------------------------
// 38172 mint announcements

#[test]
fn announcement_d_in_both_key_forms_names_the_signer() {
    let keys = Keys::generate();
    let point = compressed(&keys);
    let x_only = keys.public_key().to_hex();
    let upper = point.to_hex().to_ascii_uppercase();
    for d in [x_only.clone(), point.to_hex(), upper] {
        let e = sign(&keys, 38172, &[&["d", &d]], "");
        let a = MintAnnouncement::parse(&e).expect("parses");
        assert_eq!(a.d, d, "d is kept verbatim");
        assert_eq!(a.mint, AnnouncedMint::Key(point.x_only()));
        assert!(a.names_signer(&e.pubkey));
    }
    // The same key announced by someone else is a key, but not a self-announcement.
    let other = signed(38172, &[&["d", &x_only]], "");
    let a = MintAnnouncement::parse(&other).expect("parses");
    assert_eq!(a.mint, AnnouncedMint::Key(point.x_only()));
    assert!(!a.names_signer(&other.pubkey));
}

#[test]
fn announcement_d_that_is_not_a_key_is_opaque() {
    let off_x = format!("{:064x}", 5);
    for d in [
        "6hca1u9u9a39iiii",
        off_x.as_str(),
        &off_curve_hex(),
        &"zz".repeat(32),
    ] {
        let a = MintAnnouncement::parse(&signed(38172, &[&["d", d]], "")).expect("parses");
        assert_eq!(a.mint, AnnouncedMint::Opaque(d.to_string()), "d = {d}");
    }
}

#[test]
fn announcement_without_d_is_refused() {
    let e = signed(38172, &[&["u", "https://mint.example"]], "");
    let err = expect_err(MintAnnouncement::parse(&e));
    assert_eq!(err.reason, Reason::Missing);
    assert_eq!(err.field, "tags.d");
    let e = signed(38172, &[&["d", " "]], "");
    assert_eq!(kind_of(MintAnnouncement::parse(&e)), "missing");
}

#[test]
fn announcement_nuts_with_commas_spaces_and_junk() {
    let e = signed(
        38172,
        &[
            &["d", "x"],
            &["nuts", "4, 1 2,,3\t7  NUT-9 x"],
            &["nuts", "5", "1"],
        ],
        "",
    );
    let a = MintAnnouncement::parse(&e).expect("parses");
    assert_eq!(a.nuts, vec![1, 2, 3, 4, 5, 7]);
}

#[test]
fn announcement_urls_normalised_and_invalid_skipped() {
    let e = signed(
        38172,
        &[
            &["d", "x"],
            &["u", "https://Mint.Example.com/"],
            &["u", "ftp://mint.example.com"],
            &["u", "not a url"],
            &["u", "https://mint.example.com"],
            &["u", "http://other.example:3338/path/"],
        ],
        "",
    );
    let a = MintAnnouncement::parse(&e).expect("parses");
    let urls: Vec<&str> = a.urls.iter().map(MintUrl::as_str).collect();
    assert_eq!(
        urls,
        ["https://mint.example.com", "http://other.example:3338/path"]
    );
}

#[test]
fn announcement_network_and_metadata_shapes() {
    let nut06 = serde_json::json!({
        "name": "M", "description": "D", "icon_url": "https://i", "motd": "hi", "version": "v1"
    })
    .to_string();
    let e = signed(38172, &[&["d", "x"], &["n", "bitcoin"]], &nut06);
    let a = MintAnnouncement::parse(&e).expect("parses");
    assert_eq!(a.network, Some(Network::Mainnet));
    assert_eq!(a.metadata.name.as_deref(), Some("M"));
    assert_eq!(a.metadata.description.as_deref(), Some("D"));
    assert_eq!(a.metadata.icon.as_deref(), Some("https://i"));
    assert_eq!(a.metadata.motd.as_deref(), Some("hi"));
    assert_eq!(a.metadata.version.as_deref(), Some("v1"));

    let kind0 = r#"{"name":"K","about":"A","picture":"https://p"}"#;
    let a = MintAnnouncement::parse(&signed(38172, &[&["d", "x"], &["n", "liquid"]], kind0))
        .expect("parses");
    assert_eq!(a.network, Some(Network::Unknown));
    assert_eq!(a.metadata.name.as_deref(), Some("K"));
    assert_eq!(a.metadata.description.as_deref(), Some("A"));
    assert_eq!(a.metadata.icon.as_deref(), Some("https://p"));

    for junk in ["hello", "[1,2]", "{\"name\": 5}", "{broken"] {
        let a = MintAnnouncement::parse(&signed(38172, &[&["d", "x"]], junk)).expect("parses");
        assert_eq!(
            a.metadata,
            Default::default(),
            "content {junk:?} is ignored"
        );
        assert_eq!(a.network, None);
    }
}

#[test]
fn every_parser_checks_its_kind() {
    let e = signed(
        1,
        &[&["d", "x"], &["k", "38172"], &["e", &"ab".repeat(32)]],
        "{}",
    );
    let wrong = |r: Reason| matches!(r, Reason::WrongKind { found: 1, .. });
    assert!(wrong(expect_err(MintAnnouncement::parse(&e)).reason));
    assert!(wrong(expect_err(FedimintAnnouncement::parse(&e)).reason));
    assert!(wrong(expect_err(Recommendation::parse(&e)).reason));
    assert!(wrong(expect_err(Deletion::parse(&e)).reason));
    assert!(wrong(expect_err(MintInfo::parse(&e)).reason));
    assert!(wrong(expect_err(CashuData::parse(&e)).reason));
    assert!(wrong(expect_err(FinEpoch::parse(&e)).reason));
    let err = expect_err(CashuData::parse(&e));
    assert_eq!(
        err.reason,
        Reason::WrongKind {
            expected: 4919,
            found: 1
        }
    );
    assert_eq!(err.field, "kind");
}

// ---------------------------------------------------------------------------------------------
// 38173 fedimint announcements

#[test]
fn fedimint_modules_invites_and_network() {
    let e = signed(
        38173,
        &[
            &["d", "fedid"],
            &["u", "fed11aaa", "fedimint"],
            &["u", "fed11bbb"],
            &["u", "fed11aaa"],
            &["modules", "ln, mint,wallet,,mint"],
            &["n", "signet"],
        ],
        "",
    );
    let f = FedimintAnnouncement::parse(&e).expect("parses");
    assert_eq!(f.federation_id, "fedid");
    assert_eq!(f.invite_codes, ["fed11aaa", "fed11bbb"]);
    assert_eq!(f.modules, ["ln", "mint", "wallet"]);
    assert_eq!(f.network, Some(Network::Signet));
    assert_eq!(
        kind_of(FedimintAnnouncement::parse(&signed(38173, &[], ""))),
        "missing"
    );
}

// ---------------------------------------------------------------------------------------------
// 38000 recommendations

fn review(tags: &[&[&str]], content: &str) -> Result<Recommendation, ParseError> {
    Recommendation::parse(&signed(38000, tags, content))
}

#[test]
fn review_rating_tag_with_scale_and_decimals() {
    let r = review(
        &[&["k", "38172"], &["d", "m"], &["rating", "4.5", "5"]],
        "[2/5] ok",
    )
    .expect("parses");
    assert_eq!(r.rating, Some(4.5), "the tag wins over the prefix");
    assert_eq!(r.text, "ok");
    let r = review(&[&["k", "38172"], &["d", "m"], &["rating", "3"]], "fine").expect("parses");
    assert_eq!(r.rating, Some(3.0));
    assert_eq!(r.text, "fine");
    // Another scale, or out of range: the tag is ignored and the prefix (if any) is used.
    let r = review(
        &[&["k", "38172"], &["d", "m"], &["rating", "8", "10"]],
        "[4/5] x",
    )
    .expect("parses");
    assert_eq!(r.rating, Some(4.0));
    let r = review(&[&["k", "38172"], &["d", "m"], &["rating", "6"]], "y").expect("parses");
    assert_eq!(r.rating, None);
    assert_eq!(r.text, "y");
    let r = review(&[&["k", "38172"], &["d", "m"], &["rating", "NaN"]], "z").expect("parses");
    assert_eq!(r.rating, None);
}

#[test]
fn review_content_prefix() {
    let r = review(&[&["k", "38173"], &["d", "f"]], "  [3.5/5]   great mint \n").expect("parses");
    assert_eq!(r.rating, Some(3.5));
    assert_eq!(r.text, "great mint");
    assert_eq!(r.target_kind, 38173);
    // Out of range: the rating is dropped, the prefix is still not review text.
    for content in ["[7/5] too good", "[0/5] too good", "[0.5/5] too good"] {
        let r = review(&[&["k", "38172"], &["d", "m"]], content).expect("parses");
        assert_eq!(r.rating, None, "{content}");
        assert_eq!(r.text, "too good");
    }
    // Not a rating prefix: kept as text.
    for content in ["[a/5] hm", "[4/10] hm", "[note] hm", "hm [5/5]"] {
        let r = review(&[&["k", "38172"], &["d", "m"]], content).expect("parses");
        assert_eq!(r.rating, None, "{content}");
        assert_eq!(r.text, content);
    }
}

#[test]
fn review_for_other_apps_is_not_for_us() {
    for k in [&["k", "1"][..], &["k", "abc"], &["x", "38172"]] {
        let err = expect_err(review(&[k, &["d", "m"]], "[5/5]"));
        assert!(matches!(err.reason, Reason::NotForUs(_)), "{k:?}: {err}");
    }
}

#[test]
fn review_target_mint_is_the_key_a_mint_review_names() {
    let mint = Keys::generate().public_key().to_hex();
    let author = Keys::generate().public_key().to_hex();
    let coord = format!("38172:{author}:{mint}");
    let cases: [(&[&[&str]], Option<&str>); 6] = [
        // The `d` of a 38172 coordinate, or a bare `d`, when it is a valid key.
        (&[&["k", "38172"], &["a", &coord]], Some(&mint)),
        (&[&["k", "38172"], &["d", &mint]], Some(&mint)),
        // Not a key: 64 hex that is no x coordinate (above the field size), or a name.
        (&[&["k", "38172"], &["d", &"f".repeat(64)]], None),
        (&[&["k", "38172"], &["d", "mintd"]], None),
        // About a federation, or a URL: no mint key.
        (&[&["k", "38173"], &["d", &mint]], None),
        (&[&["k", "38172"], &["u", "https://mint.example"]], None),
    ];
    for (tags, expected) in cases {
        let r = review(tags, "").expect("parses");
        assert_eq!(
            r.target_mint.map(|k| k.to_hex()).as_deref(),
            expected,
            "{tags:?}"
        );
    }
}

#[test]
fn review_target_precedence() {
    let author = Keys::generate().public_key().to_hex();
    let coord = format!("38172:{author}:mintd");
    let r = review(
        &[
            &["k", "38172"],
            &["a", "38172:cashu-mint-pubkey:nda1", "wss://r", "cashu"],
            &["a", &coord],
            &["d", "dd"],
            &["u", "https://u.example"],
        ],
        "",
    )
    .expect("parses");
    assert_eq!(
        r.target,
        ReviewTarget::Coordinate {
            kind: 38172,
            author: author.clone(),
            d: "mintd".into()
        }
    );
    // The placeholder is ignored: the event is kept and falls back to `d`.
    let r = review(
        &[
            &["k", "38172"],
            &["a", "38172:cashu-mint-pubkey:nda1"],
            &["d", "dd"],
        ],
        "",
    )
    .expect("parses");
    assert_eq!(r.target, ReviewTarget::D("dd".into()));
    // A coordinate of another kind is not a mint.
    let r = review(
        &[
            &["k", "38172"],
            &["a", &format!("30023:{author}:x")],
            &["d", "dd"],
        ],
        "",
    )
    .expect("parses");
    assert_eq!(r.target, ReviewTarget::D("dd".into()));
    // No a, no d: the (normalised) URL.
    let r = review(
        &[&["k", "38172"], &["u", "https://U.Example/", "cashu"]],
        "",
    )
    .expect("parses");
    assert_eq!(r.target, ReviewTarget::Url("https://u.example".into()));
    let r = review(&[&["k", "38173"], &["u", "fed11xyz"]], "").expect("parses");
    assert_eq!(r.target, ReviewTarget::Url("fed11xyz".into()));
    let err = expect_err(review(&[&["k", "38172"]], "[5/5]"));
    assert_eq!(err.reason, Reason::Missing);
}

// ---------------------------------------------------------------------------------------------
// 5 deletions

#[test]
fn deletion_ids_and_coordinates() {
    let id = "ab".repeat(32);
    let e = signed(
        5,
        &[
            &["e", &id],
            &["e", "not-an-id"],
            &["e", &id],
            &["a", "38000:abc:d"],
            &["k", "38000"],
        ],
        "",
    );
    let d = Deletion::parse(&e).expect("parses");
    assert_eq!(d.event_ids, vec![EventId::parse(&id).expect("id")]);
    assert_eq!(d.coordinates, ["38000:abc:d"]);
    assert_eq!(
        kind_of(Deletion::parse(&signed(5, &[&["e", "x"]], ""))),
        "missing"
    );
}

// ---------------------------------------------------------------------------------------------
// 4919 CASHU_DATA

fn data_event(content: &str, tags: &[&[&str]]) -> SignedEvent {
    signed(4919, tags, content)
}

#[test]
fn cashu_data_text_points() {
    let g = burn_group(vec![
        burn_entry_text(&point(1), 8),
        burn_entry_text(&point(2), 1),
    ]);
    let d = CashuData::parse(&data_event(&b64_cbor(&Cbor::Array(vec![g])), &[])).expect("parses");
    assert_eq!(d.prev, None);
    assert_eq!(d.entry_count(), 2);
    assert_eq!(
        d.groups[0].contents,
        GroupContents::Burn(vec![
            BurnEntry {
                y: point(1),
                amount: Amount::new(8).expect("amount")
            },
            BurnEntry {
                y: point(2),
                amount: Amount::new(1).expect("amount")
            },
        ])
    );
}

#[test]
fn cashu_data_byte_string_points_and_unknown_keys() {
    let mint = cbor_map(vec![
        ("epoch", int(3)),
        ("future", cbor_map(vec![("x", int(1))])),
        ("event", text("MINT")),
        ("unit", text("USD")),
        (
            "contents",
            Cbor::Array(vec![cbor_map(vec![
                ("B_", Cbor::Bytes(point(3).as_bytes().to_vec())),
                ("dleq", text("ignored")),
                ("C_", text(&point(4).to_hex().to_ascii_uppercase())),
                ("amount", int(2)),
            ])]),
        ),
    ]);
    let burn = burn_group(vec![cbor_map(vec![
        ("Y", Cbor::Bytes(point(5).as_bytes().to_vec())),
        ("amount", int(Amount::MAX as i128)),
        ("witness", Cbor::Null),
    ])]);
    let content = b64_cbor(&Cbor::Array(vec![mint, burn]));
    let groups = CashuData::decode_content(&content).expect("decodes");
    assert_eq!(
        groups,
        vec![
            DataGroup {
                epoch: Epoch::new(3).expect("epoch"),
                unit: Unit::parse("usd").expect("unit"),
                contents: GroupContents::Mint(vec![MintEntry {
                    b_: point(3),
                    c_: point(4),
                    amount: Amount::new(2).expect("amount"),
                }]),
            },
            DataGroup {
                epoch: Epoch::new(0).expect("epoch"),
                unit: Unit::parse("sat").expect("unit"),
                contents: GroupContents::Burn(vec![BurnEntry {
                    y: point(5),
                    amount: Amount::new(Amount::MAX).expect("amount"),
                }]),
            },
        ]
    );
}

#[test]
fn cashu_data_off_curve_point_names_its_path() {
    let g0 = burn_group(vec![burn_entry_text(&point(1), 1)]);
    let g1 = burn_group(vec![
        burn_entry_text(&point(2), 1),
        cbor_map(vec![("Y", text(&off_curve_hex())), ("amount", int(1))]),
    ]);
    let err = expect_err(CashuData::decode_content(&b64_cbor(&Cbor::Array(vec![
        g0, g1,
    ]))));
    assert_eq!(err.reason, Reason::NotOnCurve);
    assert_eq!(err.field, "content[1].contents[1].Y");
    // A byte string that is not 33 bytes, and a wrong prefix.
    let g = burn_group(vec![cbor_map(vec![
        ("Y", Cbor::Bytes(vec![2; 32])),
        ("amount", int(1)),
    ])]);
    let err = expect_err(CashuData::decode_content(&b64_cbor(&Cbor::Array(vec![g]))));
    assert_eq!(err.field, "content[0].contents[0].Y");
    assert_eq!(err.reason.label(), "malformed");
    let mut bad = point(1).as_bytes().to_vec();
    bad[0] = 4;
    let g = burn_group(vec![cbor_map(vec![
        ("Y", Cbor::Bytes(bad)),
        ("amount", int(1)),
    ])]);
    let err = expect_err(CashuData::decode_content(&b64_cbor(&Cbor::Array(vec![g]))));
    assert_eq!(err.reason, Reason::NotOnCurve);
    // The points are checked as a batch after reading; the error is still the first in document
    // order: an off-curve Y before a bad amount is what is named, and the other way round.
    let off_curve = cbor_map(vec![("Y", text(&off_curve_hex())), ("amount", int(1))]);
    let bad_amount = burn_entry_text(&point(3), 0);
    for (entries, reason) in [
        (vec![off_curve.clone(), bad_amount.clone()], "not_on_curve"),
        (vec![bad_amount, off_curve], "out_of_range"),
    ] {
        let g = burn_group(entries);
        let err = expect_err(CashuData::decode_content(&b64_cbor(&Cbor::Array(vec![g]))));
        assert_eq!(err.reason.label(), reason);
        assert!(
            err.field.starts_with("content[0].contents[0]"),
            "{}",
            err.field
        );
    }
}

#[test]
fn cashu_data_amounts_must_be_positive_below_2_63() {
    for bad in [0i128, -1, 1i128 << 63, (1i128 << 64) - 1] {
        let g = burn_group(vec![burn_entry_text(&point(1), bad)]);
        let err = expect_err(CashuData::decode_content(&b64_cbor(&Cbor::Array(vec![g]))));
        assert_eq!(err.field, "content[0].contents[0].amount", "amount {bad}");
        assert_eq!(err.reason.label(), "out_of_range", "amount {bad}");
    }
    let g = burn_group(vec![cbor_map(vec![
        ("Y", text(&point(1).to_hex())),
        ("amount", text("5")),
    ])]);
    let err = expect_err(CashuData::decode_content(&b64_cbor(&Cbor::Array(vec![g]))));
    assert_eq!(err.reason.label(), "malformed");
    let g = burn_group(vec![cbor_map(vec![("Y", text(&point(1).to_hex()))])]);
    let err = expect_err(CashuData::decode_content(&b64_cbor(&Cbor::Array(vec![g]))));
    assert_eq!(err.reason, Reason::Missing);
    assert_eq!(err.field, "content[0].contents[0].amount");
}

#[test]
fn cashu_data_group_fields_are_checked() {
    let with = |key: &str, value: Cbor| {
        let Cbor::Map(mut pairs) = burn_group(vec![]) else {
            unreachable!()
        };
        pairs.retain(|(k, _)| k.as_text() != Some(key));
        pairs.push((text(key), value));
        b64_cbor(&Cbor::Array(vec![Cbor::Map(pairs)]))
    };
    let cases = [
        ("event", text("SWAP"), "content[0].event", "malformed"),
        ("epoch", int(-1), "content[0].epoch", "out_of_range"),
        ("epoch", text("1"), "content[0].epoch", "malformed"),
        ("unit", text("s a t"), "content[0].unit", "malformed"),
        (
            "contents",
            cbor_map(vec![]),
            "content[0].contents",
            "malformed",
        ),
    ];
    for (key, value, field, label) in cases {
        let err = expect_err(CashuData::decode_content(&with(key, value)));
        assert_eq!(
            (err.field.as_str(), err.reason.label()),
            (field, label),
            "{key}"
        );
    }
    // A known key given twice is ambiguous.
    let Cbor::Map(mut pairs) = burn_group(vec![]) else {
        unreachable!()
    };
    pairs.push((text("unit"), text("usd")));
    let err = expect_err(CashuData::decode_content(&b64_cbor(&Cbor::Array(vec![
        Cbor::Map(pairs),
    ]))));
    assert_eq!(err.field, "content[0].unit");
    // The top level must be an array of maps.
    assert_eq!(
        expect_err(CashuData::decode_content(&b64_cbor(&burn_group(vec![])))).field,
        "content"
    );
    assert_eq!(
        expect_err(CashuData::decode_content(&b64_cbor(&Cbor::Array(vec![
            int(1)
        ]))))
        .field,
        "content[0]"
    );
    // An empty batch is valid.
    assert_eq!(
        CashuData::decode_content(&b64_cbor(&Cbor::Array(vec![]))),
        Ok(vec![])
    );
}

#[test]
fn cashu_data_over_the_entry_limit_is_refused_before_points_are_checked() {
    // Entries whose points are invalid: TooLarge (not NotOnCurve) proves the count comes first.
    let junk = cbor_map(vec![("Y", text("00")), ("amount", int(0))]);
    let half = MAX_BATCH_ENTRIES / 2;
    let groups = vec![
        burn_group(vec![junk.clone(); half]),
        burn_group(vec![junk.clone(); MAX_BATCH_ENTRIES - half + 1]),
    ];
    let content = b64_cbor(&Cbor::Array(groups));
    assert!(content.len() <= MAX_EVENT_JSON_BYTES);
    let err = expect_err(CashuData::parse(&data_event(&content, &[])));
    assert_eq!(
        err.reason,
        Reason::TooLarge {
            limit: MAX_BATCH_ENTRIES,
            found: MAX_BATCH_ENTRIES + 1
        }
    );
    // At the limit, the count passes and the first bad point is what is refused.
    let groups = vec![burn_group(vec![junk; MAX_BATCH_ENTRIES])];
    let err = expect_err(CashuData::decode_content(&b64_cbor(&Cbor::Array(groups))));
    assert_eq!(err.field, "content[0].contents[0].Y");
}

#[test]
fn cashu_data_oversized_content_is_refused_up_front() {
    let content = "A".repeat(MAX_EVENT_JSON_BYTES + 4);
    let err = expect_err(CashuData::decode_content(&content));
    assert_eq!(
        err.reason,
        Reason::TooLarge {
            limit: MAX_EVENT_JSON_BYTES,
            found: content.len()
        }
    );
}

#[test]
fn cashu_data_malformed_base64_and_cbor() {
    for content in ["not base64!", "%%%%", "QUJD=X"] {
        let err = expect_err(CashuData::parse(&data_event(content, &[])));
        assert_eq!(err.field, "content", "{content}");
        assert_eq!(err.reason.label(), "malformed", "{content}");
    }
    // Hostile CBOR: huge declared lengths, deep nesting, trailing bytes, truncation.
    let mut huge_bytes = vec![0x5b];
    huge_bytes.extend([0xff; 8]);
    let mut huge_array = vec![0x9b];
    huge_array.extend([0xff; 8]);
    let mut huge_map = vec![0xbb];
    huge_map.extend([0x7f; 8]);
    let mut huge_text_in_array = vec![0x81, 0x7b];
    huge_text_in_array.extend([0xff; 8]);
    let deep = vec![0x81; 200_000];
    let deep_maps: Vec<u8> = [0xa1, 0x00].repeat(100_000);
    let indefinite = vec![0x9f; 100_000];
    let tags = [0xc6; 200_000].to_vec();
    let mut trailing = Vec::new();
    ciborium::into_writer(&Cbor::Array(vec![]), &mut trailing).expect("cbor");
    trailing.push(0);
    for (name, bytes) in [
        ("huge byte string", huge_bytes),
        ("huge array", huge_array),
        ("huge map", huge_map),
        ("huge text", huge_text_in_array),
        ("deep arrays", deep),
        ("deep maps", deep_maps),
        ("deep indefinite arrays", indefinite),
        ("chained tags", tags),
        ("trailing bytes", trailing),
        ("empty", vec![]),
    ] {
        let content = B64.encode(&bytes);
        let err = expect_err(CashuData::decode_content(&content));
        assert_eq!(err.field, "content", "{name}");
        assert!(
            matches!(err.reason, Reason::Malformed(_) | Reason::TooLarge { .. }),
            "{name}: {err}"
        );
    }
}

#[test]
fn cashu_data_e_tag_is_prev_and_must_be_an_id() {
    let content = b64_cbor(&Cbor::Array(vec![burn_group(vec![burn_entry_text(
        &point(1),
        1,
    )])]));
    let prev = "cd".repeat(32);
    let d = CashuData::parse(&data_event(&content, &[&["e", &prev]])).expect("parses");
    assert_eq!(d.prev, Some(EventId::parse(&prev).expect("id")));
    let d = CashuData::parse(&data_event(&content, &[&["e", &prev], &["e", &prev]]))
        .expect("the same e twice is one link");
    assert_eq!(d.prev, Some(EventId::parse(&prev).expect("id")));
    let other = "ef".repeat(32);
    for tags in [
        &[&["e", "abc"][..]][..],
        &[&["e", &prev[..63]]],
        &[&["e"]],
        &[&["e", &prev], &["e", &other]],
    ] {
        let err = expect_err(CashuData::parse(&data_event(&content, tags)));
        assert_eq!(err.field, "tags.e", "{tags:?}");
        assert_eq!(err.reason.label(), "malformed", "{tags:?}");
    }
}

#[test]
fn cashu_data_encoder_round_trips_through_a_signed_event() {
    let data = CashuData {
        groups: vec![
            DataGroup {
                epoch: Epoch::new(1).expect("epoch"),
                unit: Unit::parse("sat").expect("unit"),
                contents: GroupContents::Mint(vec![MintEntry {
                    b_: point(7),
                    c_: point(8),
                    amount: Amount::new(64).expect("amount"),
                }]),
            },
            DataGroup {
                epoch: Epoch::new(2).expect("epoch"),
                unit: Unit::parse("msat").expect("unit"),
                contents: GroupContents::Burn(vec![]),
            },
        ],
        prev: Some(EventId([9; 32])),
    };
    let prev = data.prev.expect("prev").to_hex();
    let e = data_event(&data.encode_content(), &[&["e", &prev]]);
    assert_eq!(CashuData::parse(&e), Ok(data));
}

// ---------------------------------------------------------------------------------------------
// 1337 CASHU_FIN_EPOCH

fn fin() -> FinEpoch {
    FinEpoch {
        epoch: Epoch::new(4).expect("epoch"),
        outstanding_balance: 12_345,
        unit: Unit::parse("sat").expect("unit"),
        prev: None,
    }
}

#[test]
fn fin_epoch_json_and_cbor() {
    let want = fin();
    let json = FinEpoch::parse(&signed(1337, &[], &want.encode_content_json())).expect("json");
    assert_eq!(json, want);
    let cbor = FinEpoch::parse(&signed(1337, &[], &want.encode_content_cbor())).expect("cbor");
    assert_eq!(cbor, want);
    // Hand-written CBOR with an extra key, and JSON with a zero balance and an e tag.
    let content = b64_cbor(&cbor_map(vec![
        ("unit", text("usd")),
        ("epoch", int(0)),
        ("outstanding_balance", int(7)),
        ("note", text("x")),
    ]));
    let f = FinEpoch::parse(&signed(1337, &[], &content)).expect("cbor");
    assert_eq!(
        (f.epoch.get(), f.outstanding_balance, f.unit.as_str()),
        (0, 7, "usd")
    );
    let prev = "12".repeat(32);
    let f = FinEpoch::parse(&signed(
        1337,
        &[&["e", &prev]],
        r#"{"epoch":1,"outstanding_balance":0,"unit":"sat"}"#,
    ))
    .expect("json");
    assert_eq!(f.outstanding_balance, 0);
    assert_eq!(f.prev, Some(EventId::parse(&prev).expect("id")));
}

#[test]
fn fin_epoch_ignores_other_apps_and_names_bad_fields() {
    // NIP-C0 code snippets and other content are not ours.
    for content in [
        "fn main() { println!(\"hi\"); }",
        "{ not json",
        r#"{"language":"rust","code":"x"}"#,
        "[1,2,3]",
        "",
    ] {
        let err = expect_err(FinEpoch::parse(&signed(1337, &[], content)));
        assert!(
            matches!(err.reason, Reason::NotForUs(_)),
            "{content:?}: {err}"
        );
    }
    let cases = [
        (
            r#"{"epoch":-1,"outstanding_balance":1,"unit":"sat"}"#,
            "epoch",
            "out_of_range",
        ),
        (
            r#"{"epoch":1.5,"outstanding_balance":1,"unit":"sat"}"#,
            "epoch",
            "malformed",
        ),
        (r#"{"epoch":1,"outstanding_balance":1}"#, "unit", "missing"),
        (
            r#"{"epoch":1,"unit":"sat"}"#,
            "outstanding_balance",
            "missing",
        ),
        (
            r#"{"epoch":1,"outstanding_balance":9223372036854775808,"unit":"sat"}"#,
            "outstanding_balance",
            "out_of_range",
        ),
        (
            r#"{"epoch":1,"outstanding_balance":1,"unit":7}"#,
            "unit",
            "malformed",
        ),
    ];
    for (content, field, label) in cases {
        let err = expect_err(FinEpoch::parse(&signed(1337, &[], content)));
        assert_eq!(
            (err.field.as_str(), err.reason.label()),
            (field, label),
            "{content}"
        );
    }
    let err = expect_err(FinEpoch::parse(&signed(
        1337,
        &[&["e", "nope"]],
        &fin().encode_content_json(),
    )));
    assert_eq!(err.field, "tags.e");
}

// ---------------------------------------------------------------------------------------------
// 11467 mint identity

fn info_json(pubkey: &str) -> serde_json::Value {
    serde_json::json!({
        "name": "Test Mint",
        "pubkey": pubkey,
        "version": "Nutshell/0.16.0",
        "description": "a mint",
        "urls": ["https://Mint.Example/", "not a url", "http://mintxyz.onion"],
        "nuts": {
            "4": {"methods": [{"method": "bolt11", "unit": "sat"}, {"method": "bolt11", "unit": "usd"}], "disabled": false},
            "5": {"methods": [{"method": "bolt11", "unit": "SAT"}, {"method": "bolt12", "unit": "msat"}]},
            "7": {"supported": true},
            "12": {"supported": true},
            "x": {}
        }
    })
}

#[test]
fn mint_info_cbor_and_json_agree() {
    let keys = Keys::generate();
    let pk = compressed(&keys);
    let json = info_json(&pk.to_hex());
    for content in [MintInfo::encode_content(&json), json.to_string()] {
        let e = sign(&keys, 11467, &[], &content);
        let info = MintInfo::parse(&e).expect("parses");
        assert_eq!(info.pubkey, Some(pk));
        assert_eq!(info.signer_matches(&e.pubkey), Some(true));
        assert_eq!(info.name.as_deref(), Some("Test Mint"));
        assert_eq!(info.description.as_deref(), Some("a mint"));
        let urls: Vec<&str> = info.urls.iter().map(MintUrl::as_str).collect();
        assert_eq!(urls, ["https://mint.example", "http://mintxyz.onion"]);
        assert_eq!(info.nuts, vec![4, 5, 7, 12]);
        let units: Vec<&str> = info.units.iter().map(Unit::as_str).collect();
        assert_eq!(units, ["msat", "sat", "usd"]);
        assert_eq!(info.raw, json);
    }
}

#[test]
fn mint_info_signer_mismatch_and_missing_pubkey() {
    let mint = Keys::generate();
    let json = info_json(&compressed(&mint).to_hex());
    let e = signed(11467, &[], &MintInfo::encode_content(&json));
    let info = MintInfo::parse(&e).expect("parses");
    assert_eq!(info.signer_matches(&e.pubkey), Some(false));
    assert_eq!(
        info.signer_matches(&mint.public_key().to_bytes()),
        Some(true)
    );
    for pubkey in [
        serde_json::Value::Null,
        off_curve_hex().into(),
        mint.public_key().to_hex().into(),
    ] {
        let mut json = info_json("");
        json["pubkey"] = pubkey.clone();
        let info = MintInfo::parse(&signed(11467, &[], &json.to_string())).expect("parses");
        assert_eq!(info.pubkey, None, "{pubkey}");
        assert_eq!(info.signer_matches(&e.pubkey), None);
    }
}

#[test]
fn mint_info_cbor_with_integer_keys_and_byte_string_pubkey() {
    let keys = Keys::generate();
    let pk = compressed(&keys);
    let value = cbor_map(vec![
        ("pubkey", Cbor::Bytes(pk.as_bytes().to_vec())),
        (
            "nuts",
            Cbor::Map(vec![
                (
                    int(4),
                    cbor_map(vec![(
                        "methods",
                        Cbor::Array(vec![cbor_map(vec![("unit", text("sat"))])]),
                    )]),
                ),
                (int(9), cbor_map(vec![])),
            ]),
        ),
    ]);
    let e = sign(&keys, 11467, &[], &b64_cbor(&value));
    let info = MintInfo::parse(&e).expect("parses");
    assert_eq!(info.pubkey, Some(pk));
    assert_eq!(info.signer_matches(&e.pubkey), Some(true));
    assert_eq!(info.nuts, vec![4, 9]);
    assert_eq!(info.units, vec![Unit::parse("sat").expect("unit")]);
    assert_eq!(info.raw["pubkey"], serde_json::Value::String(pk.to_hex()));
}

#[test]
fn mint_info_refuses_what_is_not_an_object() {
    for content in [
        "",
        "[1]",
        "not base64!",
        "{broken",
        &B64.encode([0x81, 0x01]),
    ] {
        let err = expect_err(MintInfo::parse(&signed(11467, &[], content)));
        assert_eq!(err.field, "content", "{content:?}");
        assert_eq!(err.reason.label(), "malformed", "{content:?}");
    }
    let big = format!("{{\"name\":\"{}\"}}", "a".repeat(MAX_EVENT_JSON_BYTES));
    assert_eq!(kind_of(MintInfo::decode_content(&big)), "too_large");
}
