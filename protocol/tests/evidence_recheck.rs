//! The finding-specific re-check of evidence labels ([`ProtocolRecheck`]): for every finding, a
//! label whose embedded events show it is confirmed, and a label of the right structure whose
//! events do not show it is refused (while the structural checks alone accept it).

use mintwatch_protocol::broadcast::{
    BurnEntry, CashuData, DataGroup, FinEpoch, GroupContents, MintEntry, MintInfo,
};
use mintwatch_protocol::kinds;
use mintwatch_protocol::output::{
    build_evidence_label, epoch_detail, verify_evidence_label, verify_evidence_label_structure,
    BuildError, Evidence, EvidenceError, Recheck, LABEL_NAMESPACE,
};
use mintwatch_protocol::{Amount, Epoch, EventId, FindingKind, MintKey, Point, SignedEvent, Unit};
use nostr::{EventBuilder, Keys, Kind, Tag, Timestamp};
use serde_json::{json, Value};

const T0: u64 = 1_700_000_000;

fn signed_at(keys: &Keys, kind: u16, tags: Vec<Vec<String>>, content: &str, t: u64) -> SignedEvent {
    let tags: Vec<Tag> = tags
        .into_iter()
        .map(|t| Tag::parse(t).expect("tag"))
        .collect();
    let e = EventBuilder::new(Kind::Custom(kind), content)
        .tags(tags)
        .custom_created_at(Timestamp::from(t))
        .sign_with_keys(keys)
        .expect("sign");
    SignedEvent::from(&e)
}

fn secret(seed: u8) -> secp256k1::SecretKey {
    secp256k1::SecretKey::from_slice(&[seed; 32]).expect("secret")
}

fn point(seed: u8) -> Point {
    Point::from_public_key(&secp256k1::PublicKey::from_secret_key(
        secp256k1::SECP256K1,
        &secret(seed),
    ))
}

/// Keys whose compressed public key is `point(seed)`.
fn keys(seed: u8) -> Keys {
    Keys::new(secret(seed).into())
}

fn key_of(keys: &Keys) -> MintKey {
    MintKey::from_x_only_bytes(keys.public_key().to_bytes()).expect("mint key")
}

fn unit(s: &str) -> Unit {
    Unit::parse(s).expect("unit")
}

fn epoch(n: u64) -> Epoch {
    Epoch::new(n).expect("epoch")
}

fn amount(n: u64) -> Amount {
    Amount::new(n).expect("amount")
}

fn burn(u: &str, ep: u64, ys: &[Point]) -> DataGroup {
    DataGroup {
        epoch: epoch(ep),
        unit: unit(u),
        contents: GroupContents::Burn(
            ys.iter()
                .map(|y| BurnEntry {
                    y: *y,
                    amount: amount(8),
                })
                .collect(),
        ),
    }
}

/// `n` MINT entries of 8 in (unit, epoch); the points only need to be valid.
fn mint(u: &str, ep: u64, n: u8) -> DataGroup {
    DataGroup {
        epoch: epoch(ep),
        unit: unit(u),
        contents: GroupContents::Mint(
            (0..n)
                .map(|i| MintEntry {
                    b_: point(100 + i),
                    c_: point(150 + i),
                    amount: amount(8),
                })
                .collect(),
        ),
    }
}

fn batch(keys: &Keys, groups: Vec<DataGroup>, prev: Option<EventId>, t: u64) -> SignedEvent {
    let content = CashuData { groups, prev }.encode_content();
    let tags = prev
        .map(|p| vec!["e".to_string(), p.to_hex()])
        .into_iter()
        .collect();
    signed_at(keys, kinds::CASHU_DATA, tags, &content, t)
}

fn fin(keys: &Keys, u: &str, ep: u64, outstanding: u64, t: u64) -> SignedEvent {
    let content = FinEpoch {
        epoch: epoch(ep),
        outstanding_balance: outstanding,
        unit: unit(u),
        prev: None,
    }
    .encode_content_cbor();
    signed_at(keys, kinds::FIN_EPOCH, vec![], &content, t)
}

fn info(keys: &Keys, pubkey: &Point) -> SignedEvent {
    let content = MintInfo::encode_content(&json!({"name": "m", "pubkey": pubkey.to_hex()}));
    signed_at(keys, kinds::MINT_INFO, vec![], &content, T0)
}

fn evidence(
    finding: FindingKind,
    mint: &Keys,
    y: Option<Point>,
    events: Vec<SignedEvent>,
    detail: Option<Value>,
) -> Evidence {
    Evidence {
        finding,
        mint: key_of(mint),
        y,
        events,
        detail,
    }
}

/// A label written by hand in the documented shape, so that a label the builder refuses can
/// still be handed to the verifier.
fn hand_label(indexer: &Keys, ev: &Evidence) -> SignedEvent {
    let mut content = json!({
        "finding": ev.finding.as_str(),
        "events": ev.events.iter().map(SignedEvent::to_value).collect::<Vec<_>>(),
    });
    if let Some(y) = &ev.y {
        content["Y"] = json!(y.to_hex());
    }
    if let Some(d) = &ev.detail {
        content["detail"] = d.clone();
    }
    let mut tags = vec![
        vec!["L".to_string(), LABEL_NAMESPACE.to_string()],
        vec![
            "l".to_string(),
            ev.finding.as_str().to_string(),
            LABEL_NAMESPACE.to_string(),
        ],
        vec!["p".to_string(), ev.mint.to_hex()],
    ];
    tags.extend(
        ev.events
            .iter()
            .map(|e| vec!["e".to_string(), e.id.to_hex()]),
    );
    signed_at(indexer, kinds::LABEL, tags, &content.to_string(), T0 + 1000)
}

/// The label is built, travels as JSON, and re-checks.
fn assert_confirmed(ev: &Evidence) {
    let indexer = keys(200);
    let label = build_evidence_label(&indexer, ev)
        .unwrap_or_else(|e| panic!("{} refused: {e}", ev.finding));
    let received = SignedEvent::from_json(&label.to_json()).expect("parse");
    let v = verify_evidence_label(&received).expect("verifies");
    assert_eq!(v.finding, ev.finding);
    assert_eq!(v.recheck, Recheck::Confirmed);
    assert_eq!(
        verify_evidence_label(&hand_label(&indexer, ev))
            .expect("hand label")
            .recheck,
        Recheck::Confirmed
    );
}

/// The structure holds, but the events do not show the finding: refused by the re-check (with
/// a reason mentioning `why`), and never built.
fn assert_refused(ev: &Evidence, why: &str) {
    let indexer = keys(200);
    let label = hand_label(&indexer, ev);
    let structural = verify_evidence_label_structure(&label).expect("the structure holds");
    assert_eq!(structural.recheck, Recheck::NotChecked);
    match verify_evidence_label(&label) {
        Err(EvidenceError::Recheck(reason)) => {
            assert!(
                reason.contains(why),
                "{}: {reason:?} lacks {why:?}",
                ev.finding
            )
        }
        other => panic!("{}: expected a re-check failure, got {other:?}", ev.finding),
    }
    assert!(matches!(
        build_evidence_label(&indexer, ev),
        Err(BuildError::Evidence(EvidenceError::Recheck(_)))
    ));
}

#[test]
fn double_spend() {
    let m = keys(1);
    let y = point(10);
    let a = batch(&m, vec![burn("sat", 0, &[point(11), y])], None, T0);
    let b = batch(&m, vec![burn("sat", 0, &[y])], Some(a.id), T0 + 10);
    let twice = batch(&m, vec![burn("sat", 0, &[y, point(12), y])], None, T0);
    let ds = |events| evidence(FindingKind::DoubleSpend, &m, Some(y), events, None);

    assert_confirmed(&ds(vec![a.clone(), b.clone()]));
    assert_confirmed(&ds(vec![twice]));
    // The second event removed: burnt once.
    assert_refused(&ds(vec![a.clone()]), "only once");
    // Two events, but one does not burn the Y.
    let other = batch(&m, vec![burn("sat", 0, &[point(13)])], None, T0);
    assert_refused(&ds(vec![a.clone(), other]), "does not burn");
    // A batch that only mints.
    let minting = batch(&m, vec![mint("sat", 0, 2)], None, T0);
    assert_refused(&ds(vec![a, minting]), "does not burn");
}

#[test]
fn cross_mint_collision() {
    let (m, other) = (keys(1), keys(2));
    let y = point(10);
    let ours = batch(&m, vec![burn("sat", 0, &[y])], None, T0);
    let theirs = batch(
        &other,
        vec![mint("sat", 0, 1), burn("sat", 0, &[y])],
        None,
        T0,
    );
    let cm = |events| evidence(FindingKind::CrossMintCollision, &m, Some(y), events, None);

    assert_confirmed(&cm(vec![ours.clone(), theirs]));
    // The other mint's batch does not burn the Y.
    let unrelated = batch(&other, vec![burn("sat", 0, &[point(11)])], None, T0);
    assert_refused(&cm(vec![ours, unrelated]), "does not burn");
    // The p mint's batch does not burn it.
    let ours_unrelated = batch(&m, vec![burn("sat", 0, &[point(11)])], None, T0);
    let theirs = batch(&other, vec![burn("sat", 0, &[y])], None, T0);
    assert_refused(&cm(vec![ours_unrelated, theirs]), "does not burn");
}

#[test]
fn fork() {
    let m = keys(1);
    let root = batch(&m, vec![mint("sat", 0, 1)], None, T0);
    let a = batch(&m, vec![mint("sat", 0, 2)], Some(root.id), T0 + 10);
    let b = batch(&m, vec![mint("sat", 0, 3)], Some(root.id), T0 + 12);
    let fk = |events| evidence(FindingKind::Fork, &m, None, events, None);

    assert_confirmed(&fk(vec![a.clone(), b]));
    // A chain, not a fork: `c` names `a`, which names `root`.
    let c = batch(&m, vec![mint("sat", 0, 4)], Some(a.id), T0 + 20);
    assert_refused(&fk(vec![a.clone(), c]), "different previous events");
    // One of them names nothing.
    assert_refused(&fk(vec![a, root]), "names no previous event");
}

#[test]
fn gap() {
    let m = keys(1);
    let never_published = batch(&m, vec![mint("sat", 0, 1)], None, T0);
    let dangling = batch(
        &m,
        vec![mint("sat", 0, 2)],
        Some(never_published.id),
        T0 + 10,
    );
    let gp = |events| evidence(FindingKind::Gap, &m, None, events, None);

    assert_confirmed(&gp(vec![dangling.clone()]));
    // An event with no `e` cannot dangle.
    assert_refused(&gp(vec![never_published]), "names no previous event");
    // The gap is the one event whose `e` dangles, not a set.
    let another = batch(&m, vec![mint("sat", 0, 3)], Some(dangling.id), T0 + 20);
    assert_refused(&gp(vec![dangling, another]), "found 2 events");
}

#[test]
fn liability_inversion() {
    let m = keys(1);
    let ys: Vec<Point> = (20..23).map(point).collect();
    let minted = batch(&m, vec![mint("eur", 0, 2), mint("sat", 0, 5)], None, T0);
    let burnt = batch(&m, vec![burn("eur", 0, &ys)], Some(minted.id), T0 + 10);
    let detail = epoch_detail(&unit("eur"), epoch(0));
    let li = |events, detail| evidence(FindingKind::LiabilityInversion, &m, None, events, detail);

    assert_confirmed(&li(
        vec![minted.clone(), burnt.clone()],
        Some(detail.clone()),
    ));
    // With the totals in the detail: exactly the sums of the events.
    let totals = json!({"unit": "eur", "epoch": 0, "minted": 16, "burnt": 24});
    assert_confirmed(&li(vec![minted.clone(), burnt.clone()], Some(totals)));
    let wrong_totals = json!({"unit": "eur", "epoch": 0, "minted": 8, "burnt": 24});
    assert_refused(
        &li(vec![minted.clone(), burnt.clone()], Some(wrong_totals)),
        "detail.minted",
    );
    // Burns that add up: two minted, two burnt.
    let fair = batch(&m, vec![burn("eur", 0, &ys[..2])], Some(minted.id), T0 + 10);
    assert_refused(
        &li(vec![minted.clone(), fair], Some(detail.clone())),
        "does not exceed",
    );
    // Another (unit, epoch): `sat` was minted, nothing burnt there.
    assert_refused(
        &li(
            vec![minted.clone()],
            Some(epoch_detail(&unit("sat"), epoch(0))),
        ),
        "does not exceed",
    );
    // An event without entries in the (unit, epoch) does not belong in the label.
    let elsewhere = batch(&m, vec![mint("usd", 0, 1)], None, T0);
    assert_refused(
        &li(vec![minted.clone(), burnt.clone(), elsewhere], Some(detail)),
        "no entries",
    );
    // No (unit, epoch) named.
    assert_refused(&li(vec![minted, burnt], None), "detail");
}

#[test]
fn balance_mismatch() {
    let m = keys(1);
    let minted = batch(&m, vec![mint("sat", 1, 3)], None, T0);
    let burnt = batch(
        &m,
        vec![burn("sat", 1, &[point(30)]), mint("usd", 1, 1)],
        Some(minted.id),
        T0 + 10,
    );
    // MINT − BURN = 24 − 8 = 16.
    let wrong = fin(&m, "sat", 1, 1_016, T0 + 20);
    let right = fin(&m, "sat", 1, 16, T0 + 20);
    let bm = |events, detail| evidence(FindingKind::BalanceMismatch, &m, None, events, detail);

    assert_confirmed(&bm(
        vec![wrong.clone(), minted.clone(), burnt.clone()],
        Some(epoch_detail(&unit("sat"), epoch(1))),
    ));
    assert_confirmed(&bm(
        vec![minted.clone(), burnt.clone(), wrong.clone()],
        None,
    ));
    // A balance that adds up.
    assert_refused(
        &bm(vec![right, minted.clone(), burnt.clone()], None),
        "the same",
    );
    // The detail names another (unit, epoch) than the 1337 closes.
    assert_refused(
        &bm(
            vec![wrong.clone(), minted.clone(), burnt.clone()],
            Some(epoch_detail(&unit("sat"), epoch(0))),
        ),
        "closes",
    );
    // A 4919 created after the 1337 is not counted by it.
    let later = batch(
        &m,
        vec![burn("sat", 1, &[point(31)])],
        Some(burnt.id),
        T0 + 30,
    );
    assert_refused(
        &bm(vec![wrong.clone(), minted.clone(), later], None),
        "after the 1337",
    );
    // Two 1337s: which one is wrong?
    let wrong2 = fin(&m, "sat", 1, 2_016, T0 + 21);
    assert_refused(&bm(vec![wrong, wrong2, minted, burnt], None), "exactly one");
}

#[test]
fn identity_mismatch() {
    let m = keys(1);
    let im = |events| evidence(FindingKind::IdentityMismatch, &m, None, events, None);
    assert_confirmed(&im(vec![info(&m, &point(2))]));
    // The content pubkey is the signer's own key.
    assert_eq!(point(1).x_only(), key_of(&m));
    assert_refused(&im(vec![info(&m, &point(1))]), "signer's key");
    // No pubkey at all proves nothing.
    let bare = signed_at(
        &m,
        kinds::MINT_INFO,
        vec![],
        &MintInfo::encode_content(&json!({"name": "m"})),
        T0,
    );
    assert_refused(&im(vec![bare]), "no valid pubkey");
}

#[test]
fn unparseable_content_is_refused() {
    let m = keys(1);
    let y = point(10);
    let good = batch(&m, vec![burn("sat", 0, &[y])], None, T0);
    let junk = signed_at(&m, kinds::CASHU_DATA, vec![], "%% not base64 %%", T0);
    let ev = evidence(
        FindingKind::DoubleSpend,
        &m,
        Some(y),
        vec![good, junk],
        None,
    );
    assert_refused(&ev, "content");
}
