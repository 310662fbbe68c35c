//! The simulator against an independent reading of its own output: every claim it makes about
//! what it published (findings, rejects, statistics, BDHKE) is recomputed here from the events.
//!
//! The 4919/1337/11467 contents are read with the crate's parsers (`CashuData::parse`,
//! `FinEpoch::parse`, `MintInfo::parse`); the simulator builds its contents with the encoders,
//! so this also checks that the two sides agree.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

use cashu::dhke;
use mintwatch_protocol::broadcast::{
    BurnEntry, CashuData, DataGroup, FinEpoch, GroupContents, MintEntry, MintInfo,
};
use mintwatch_protocol::event::{EventId, SignedEvent};
use mintwatch_protocol::findings::FindingKind;
use mintwatch_protocol::kinds;
use mintwatch_protocol::types::{Amount, Epoch, IdentityLevel, MintKey, Point, Unit};
use mintwatch_protocol::Reason;
use mintwatch_sim::{
    GroupTotals, MintRole, MisbehaviourKind, RejectReason, SimConfig, SimConfigError, Simulation,
    Simulator,
};

fn small_config(seed: u64) -> SimConfig {
    SimConfig {
        seed,
        honest_mints: 4,
        rounds: 5,
        mints_per_batch: 10,
        burns_per_batch: 8,
        rotate_every: 2,
        reviewers: 8,
        reviews_per_round: 6,
        ..SimConfig::default()
    }
}

/// Fewer and smaller batches, for tests that run several simulations.
fn tiny_config(seed: u64) -> SimConfig {
    SimConfig {
        honest_mints: 2,
        rounds: 3,
        mints_per_batch: 3,
        burns_per_batch: 2,
        reviewers: 4,
        reviews_per_round: 3,
        ..small_config(seed)
    }
}

fn simulation() -> &'static Simulation {
    static SIM: OnceLock<Simulation> = OnceLock::new();
    SIM.get_or_init(|| Simulator::run(small_config(7)).expect("valid config"))
}

// ---- the contents, read with the crate's parsers, as a flat view for the checks ----

#[derive(Debug, Clone, PartialEq)]
enum Entry {
    Mint { b_: Point, c_: Point, amount: u64 },
    Burn { y: Point, amount: u64 },
}

#[derive(Debug, Clone)]
struct Group {
    unit: Unit,
    epoch: Epoch,
    entries: Vec<Entry>,
}

fn decode_4919(ev: &SignedEvent) -> Vec<Group> {
    CashuData::parse(ev)
        .unwrap_or_else(|e| panic!("4919 {} does not parse: {e}", ev.id))
        .groups
        .into_iter()
        .map(|g| Group {
            unit: g.unit,
            epoch: g.epoch,
            entries: match g.contents {
                GroupContents::Mint(entries) => entries
                    .into_iter()
                    .map(|e| Entry::Mint {
                        b_: e.b_,
                        c_: e.c_,
                        amount: e.amount.get(),
                    })
                    .collect(),
                GroupContents::Burn(entries) => entries
                    .into_iter()
                    .map(|e| Entry::Burn {
                        y: e.y,
                        amount: e.amount.get(),
                    })
                    .collect(),
            },
        })
        .collect()
}

/// (epoch, outstanding, unit) of a 1337, JSON or base64 CBOR.
fn decode_1337(ev: &SignedEvent) -> (u64, u64, String) {
    let fin = FinEpoch::parse(ev).unwrap_or_else(|e| panic!("1337 {} does not parse: {e}", ev.id));
    (
        fin.epoch.get(),
        fin.outstanding_balance,
        fin.unit.as_str().to_string(),
    )
}

fn decode_11467_pubkey(ev: &SignedEvent) -> Point {
    MintInfo::parse(ev)
        .unwrap_or_else(|e| panic!("11467 {} does not parse: {e}", ev.id))
        .pubkey
        .expect("a valid content pubkey")
}

fn author(ev: &SignedEvent) -> MintKey {
    MintKey::from_x_only_bytes(ev.pubkey).expect("author key")
}

fn e_tag(ev: &SignedEvent) -> Option<EventId> {
    ev.tag_value("e").map(|e| EventId::parse(e).expect("e id"))
}

/// Events that must be rejected, by id.
fn rejected(sim: &Simulation) -> BTreeMap<EventId, RejectReason> {
    sim.rejects.iter().map(|r| (r.id, r.reason)).collect()
}

/// The accepted 4919 events of `mint`, in publication order.
fn batches_of<'a>(sim: &'a Simulation, mint: &MintKey) -> Vec<&'a SignedEvent> {
    let rejected = rejected(sim);
    sim.events
        .iter()
        .filter(|e| e.kind == kinds::CASHU_DATA && author(e) == *mint)
        .filter(|e| !rejected.contains_key(&e.id))
        .collect()
}

fn totals_of<'a>(
    events: impl IntoIterator<Item = &'a SignedEvent>,
) -> BTreeMap<(Unit, Epoch), GroupTotals> {
    let mut totals: BTreeMap<(Unit, Epoch), GroupTotals> = BTreeMap::new();
    for ev in events {
        for g in decode_4919(ev) {
            let t = totals.entry((g.unit.clone(), g.epoch)).or_default();
            for e in &g.entries {
                match e {
                    Entry::Mint { amount, .. } => {
                        t.mint_count += 1;
                        t.mint_amount += amount;
                    }
                    Entry::Burn { amount, .. } => {
                        t.burn_count += 1;
                        t.burn_amount += amount;
                    }
                }
            }
        }
    }
    totals.retain(|_, t| *t != GroupTotals::default());
    totals
}

// ---- tests ----

#[test]
fn same_seed_gives_identical_events() {
    let a = Simulator::run(tiny_config(11)).expect("run");
    let b = Simulator::run(tiny_config(11)).expect("run");
    assert!(!a.events.is_empty());
    // Signatures too: signing uses a seeded aux stream, not the OS.
    assert_eq!(a.events, b.events);
    assert_eq!(a.expected, b.expected);
    assert_eq!(a.rejects, b.rejects);
}

#[test]
fn different_seeds_give_different_events() {
    let a = Simulator::run(tiny_config(11)).expect("run");
    let b = Simulator::run(tiny_config(12)).expect("run");
    let ids_a: BTreeSet<EventId> = a.events.iter().map(|e| e.id).collect();
    let ids_b: BTreeSet<EventId> = b.events.iter().map(|e| e.id).collect();
    assert!(ids_a.is_disjoint(&ids_b));
    let keys_a: BTreeSet<&MintKey> = a.stats.keys().collect();
    let keys_b: BTreeSet<&MintKey> = b.stats.keys().collect();
    assert!(keys_a.is_disjoint(&keys_b));
}

#[test]
fn unmarked_events_verify_and_forged_ones_fail() {
    let sim = simulation();
    let rejected = rejected(sim);
    let mut forged = 0;
    for ev in &sim.events {
        match rejected.get(&ev.id) {
            Some(reason) if reason.fails_verification() => {
                assert!(ev.verify().is_err(), "forged event {} verifies", ev.id);
                forged += 1;
            }
            _ => assert_eq!(ev.verify(), Ok(()), "event {} of kind {}", ev.id, ev.kind),
        }
    }
    assert_eq!(forged, 2);
    // Ids are unique: no dedup can hide a forged event behind a valid one.
    let ids: BTreeSet<EventId> = sim.events.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), sim.events.len());
}

#[test]
fn malformed_events_verify_but_do_not_decode() {
    let sim = simulation();
    let mut seen = BTreeSet::new();
    for reject in &sim.rejects {
        let ev = sim
            .events
            .iter()
            .find(|e| e.id == reject.id)
            .expect("rejected event is in the output");
        assert_eq!(author(ev), reject.mint);
        match reject.reason {
            RejectReason::BadBase64 => {
                assert_eq!(ev.verify(), Ok(()));
                let err = CashuData::parse(ev).expect_err("not base64");
                assert_eq!(err.field, "content");
                assert!(matches!(&err.reason, Reason::Malformed(why) if why.contains("base64")));
            }
            RejectReason::OffCurvePoint => {
                assert_eq!(ev.verify(), Ok(()));
                let err = CashuData::parse(ev).expect_err("an off-curve Y");
                assert!(err.field.ends_with(".Y"), "{}", err.field);
                assert_eq!(err.reason, Reason::NotOnCurve);
            }
            RejectReason::BadSignature | RejectReason::ContentChangedAfterSigning => {}
        }
        seen.insert(format!("{:?}", reject.reason));
    }
    assert_eq!(
        seen.len(),
        4,
        "all four reject reasons are produced: {seen:?}"
    );
}

#[test]
fn honest_chains_link() {
    let sim = simulation();
    let mut checked = 0;
    for stats in sim.stats.values() {
        let batches = batches_of(sim, &stats.mint);
        assert_eq!(batches.len() as u64, stats.published_4919);
        if stats.role.expects_findings() {
            continue;
        }
        assert!(batches.len() >= 2);
        assert_eq!(e_tag(batches[0]), None);
        for pair in batches.windows(2) {
            assert_eq!(e_tag(pair[1]), Some(pair[0].id));
            assert!(pair[1].created_at > pair[0].created_at);
        }
        assert_eq!(stats.head, batches.last().map(|e| e.id));
        assert_eq!(stats.chain_len, batches.len() as u64);
        checked += 1;
    }
    assert!(checked >= 4);
}

#[test]
fn honest_mints_have_no_findings_and_each_misbehaviour_has_its_own() {
    let sim = simulation();
    let accused: BTreeSet<MintKey> = sim.expected.iter().map(|f| f.mint).collect();
    for stats in sim.stats.values() {
        assert_eq!(
            accused.contains(&stats.mint),
            stats.role.expects_findings(),
            "{} ({:?})",
            stats.name,
            stats.role
        );
        if let MintRole::Misbehaving(kind) = stats.role {
            if let Some(finding) = kind.finding() {
                assert!(sim
                    .expected
                    .iter()
                    .any(|f| f.mint == stats.mint && f.kind == finding));
            }
        }
    }
    let kinds_found: BTreeSet<FindingKind> = sim.expected.iter().map(|f| f.kind).collect();
    assert_eq!(kinds_found, FindingKind::ALL.into_iter().collect());
    // Two double-spends (across events, and twice in one event), a collision for each mint.
    let count = |k| sim.expected.iter().filter(|f| f.kind == k).count();
    assert_eq!(count(FindingKind::DoubleSpend), 2);
    assert_eq!(count(FindingKind::CrossMintCollision), 2);
}

#[test]
fn expected_findings_are_proven_by_the_output() {
    let sim = simulation();
    let by_id: HashMap<EventId, &SignedEvent> = sim.events.iter().map(|e| (e.id, e)).collect();
    let rejected = rejected(sim);
    for f in &sim.expected {
        assert!(!f.events.is_empty());
        for id in &f.events {
            assert!(by_id.contains_key(id), "{:?} names a missing event", f.kind);
            assert!(
                !rejected.contains_key(id),
                "{:?} names a rejected event",
                f.kind
            );
        }
        let evs: Vec<&SignedEvent> = f.events.iter().map(|id| by_id[id]).collect();
        let burns_of = |ev: &SignedEvent, y: &Point| {
            decode_4919(ev)
                .iter()
                .flat_map(|g| g.entries.clone())
                .filter(|e| matches!(e, Entry::Burn { y: b, .. } if b == y))
                .count()
        };
        match f.kind {
            FindingKind::DoubleSpend => {
                let y = f.y.expect("Y");
                assert!(evs.iter().all(|e| author(e) == f.mint));
                let total: usize = evs.iter().map(|e| burns_of(e, &y)).sum();
                assert!(total >= 2);
                assert!(evs.len() == 2 || burns_of(evs[0], &y) == 2);
                // Exactly these events of the mint burn it.
                let all: Vec<_> = batches_of(sim, &f.mint)
                    .into_iter()
                    .filter(|e| burns_of(e, &y) > 0)
                    .map(|e| e.id)
                    .collect();
                assert_eq!(all.into_iter().collect::<BTreeSet<_>>(), f.events);
            }
            FindingKind::CrossMintCollision => {
                let y = f.y.expect("Y");
                assert_eq!(evs.len(), 2);
                assert_ne!(author(evs[0]), author(evs[1]));
                assert!(evs.iter().any(|e| author(e) == f.mint));
                assert!(evs.iter().all(|e| burns_of(e, &y) == 1));
            }
            FindingKind::Fork => {
                assert_eq!(evs.len(), 2);
                assert!(e_tag(evs[0]).is_some());
                assert_eq!(e_tag(evs[0]), e_tag(evs[1]));
                assert!(evs.iter().all(|e| author(e) == f.mint));
            }
            FindingKind::Gap => {
                assert_eq!(evs.len(), 1);
                let dangling = e_tag(evs[0]).expect("e");
                assert!(!by_id.contains_key(&dangling));
            }
            FindingKind::LiabilityInversion => {
                let key = (f.unit.clone().expect("unit"), f.epoch.expect("epoch"));
                let with_entries: BTreeSet<EventId> = batches_of(sim, &f.mint)
                    .into_iter()
                    .filter(|e| {
                        decode_4919(e)
                            .iter()
                            .any(|g| (g.unit.clone(), g.epoch) == key && !g.entries.is_empty())
                    })
                    .map(|e| e.id)
                    .collect();
                assert_eq!(with_entries, f.events);
                let t = totals_of(evs.iter().copied())[&key];
                assert!(t.burn_amount > t.mint_amount);
            }
            FindingKind::BalanceMismatch => {
                let fin = evs
                    .iter()
                    .find(|e| e.kind == kinds::FIN_EPOCH)
                    .expect("the 1337");
                let (epoch, claimed, unit) = decode_1337(fin);
                assert_eq!(Some(unit.as_str()), f.unit.as_ref().map(Unit::as_str));
                assert_eq!(Some(epoch), f.epoch.map(Epoch::get));
                let key = (
                    Unit::parse(&unit).expect("unit"),
                    Epoch::new(epoch).expect("epoch"),
                );
                let before: Vec<&SignedEvent> = batches_of(sim, &f.mint)
                    .into_iter()
                    .filter(|e| e.created_at <= fin.created_at)
                    .filter(|e| {
                        decode_4919(e)
                            .iter()
                            .any(|g| (g.unit.clone(), g.epoch) == key)
                    })
                    .collect();
                let mut want: BTreeSet<EventId> = before.iter().map(|e| e.id).collect();
                want.insert(fin.id);
                assert_eq!(want, f.events);
                let truth = totals_of(before)
                    .get(&key)
                    .map_or(0, GroupTotals::outstanding);
                assert_ne!(i128::from(claimed), truth);
            }
            FindingKind::IdentityMismatch => {
                assert_eq!(evs.len(), 1);
                assert_eq!(evs[0].kind, kinds::MINT_INFO);
                assert_ne!(decode_11467_pubkey(evs[0]).x_only(), author(evs[0]));
            }
        }
    }
}

#[test]
fn every_1337_is_right_unless_expected_wrong() {
    let sim = simulation();
    let wrong: BTreeSet<EventId> = sim
        .expected
        .iter()
        .filter(|f| f.kind == FindingKind::BalanceMismatch)
        .flat_map(|f| f.events.iter().copied())
        .collect();
    let mut checked = 0;
    for fin in sim.events.iter().filter(|e| e.kind == kinds::FIN_EPOCH) {
        let (epoch, claimed, unit) = decode_1337(fin);
        let key = (
            Unit::parse(&unit).expect("unit"),
            Epoch::new(epoch).expect("epoch"),
        );
        let mint = author(fin);
        let before = batches_of(sim, &mint)
            .into_iter()
            .filter(|e| e.created_at <= fin.created_at);
        let truth = totals_of(before)
            .get(&key)
            .map_or(0, GroupTotals::outstanding);
        assert_eq!(
            i128::from(claimed) != truth,
            wrong.contains(&fin.id),
            "1337 {} claims {claimed}, truth {truth}",
            fin.id
        );
        checked += 1;
    }
    assert!(checked > 10, "only {checked} 1337 events");
}

#[test]
fn stats_match_the_decoded_content() {
    let sim = simulation();
    for stats in sim.stats.values() {
        let totals = totals_of(batches_of(sim, &stats.mint));
        assert_eq!(totals, stats.groups, "{}", stats.name);
        let mut outstanding: BTreeMap<Unit, i128> = BTreeMap::new();
        for ((unit, _), t) in &totals {
            *outstanding.entry(unit.clone()).or_default() += t.outstanding();
        }
        assert_eq!(outstanding, stats.outstanding);
        let honest_mint = matches!(stats.role, MintRole::Honest);
        if honest_mint {
            assert!(totals.values().all(|t| t.mint_amount >= t.burn_amount));
        }
        // Several epochs per unit: keys rotated.
        assert!(totals.keys().filter(|(u, _)| u.as_str() == "sat").count() >= 2);
    }
}

#[test]
fn identity_levels_match_the_events() {
    let sim = simulation();
    let mut levels = BTreeSet::new();
    for stats in sim.stats.values() {
        let mut self_signed = false;
        let mut operator = false;
        let mut mismatch = false;
        for ev in &sim.events {
            match ev.kind {
                kinds::MINT_INFO if author(ev) == stats.mint => {
                    if decode_11467_pubkey(ev).x_only() == stats.mint {
                        self_signed = true;
                    } else {
                        mismatch = true;
                    }
                }
                kinds::MINT_ANNOUNCEMENT => {
                    let d = MintKey::parse(ev.tag_value("d").expect("d")).ok();
                    if d == Some(stats.mint) {
                        if author(ev) == stats.mint {
                            self_signed = true;
                        } else {
                            operator = true;
                        }
                    }
                }
                _ => {}
            }
        }
        let want = if mismatch {
            IdentityLevel::Mismatch
        } else if self_signed {
            IdentityLevel::SelfSigned
        } else if operator {
            IdentityLevel::Operator
        } else {
            IdentityLevel::Unbound
        };
        assert_eq!(stats.identity, want, "{}", stats.name);
        levels.insert(want);
    }
    assert_eq!(levels.len(), 4, "every identity level occurs: {levels:?}");
}

#[test]
fn review_stats_match_the_events() {
    let sim = simulation();
    let deleted: BTreeSet<String> = sim
        .events
        .iter()
        .filter(|e| e.kind == kinds::DELETION)
        .flat_map(|e| e.tags_named("e").map(|t| t[0].clone()).collect::<Vec<_>>())
        .collect();
    assert_eq!(deleted.len(), 1);
    // Latest review per (author, d); then drop the deleted ones.
    let mut live: BTreeMap<([u8; 32], String), &SignedEvent> = BTreeMap::new();
    for ev in sim
        .events
        .iter()
        .filter(|e| e.kind == kinds::RECOMMENDATION)
    {
        let key = (ev.pubkey, ev.tag_value("d").expect("d").to_string());
        let newer = live
            .get(&key)
            .is_none_or(|old| old.created_at < ev.created_at);
        if newer {
            live.insert(key, ev);
        }
    }
    live.retain(|_, ev| !deleted.contains(&ev.id.to_hex()));
    let rating = |ev: &SignedEvent| -> Option<f64> {
        if let Some(r) = ev.tag_value("rating") {
            return Some(r.parse().expect("rating"));
        }
        let rest = ev.content.strip_prefix('[')?;
        let (n, _) = rest.split_once("/5]")?;
        Some(n.parse().expect("prefix rating"))
    };
    let mut reviewed = 0;
    for stats in sim.stats.values() {
        let mine: Vec<&&SignedEvent> = live
            .iter()
            .filter(|((_, d), _)| *d == stats.mint.to_hex())
            .map(|(_, ev)| ev)
            .collect();
        assert_eq!(mine.len(), stats.reviews, "{}", stats.name);
        let authors: BTreeSet<[u8; 32]> = mine.iter().map(|e| e.pubkey).collect();
        assert_eq!(authors.len(), stats.distinct_reviewers);
        let ratings: Vec<f64> = mine.iter().filter_map(|e| rating(e)).collect();
        assert_eq!(ratings.len(), stats.rated_reviews);
        match stats.mean_rating {
            Some(mean) => {
                let want = ratings.iter().sum::<f64>() / ratings.len() as f64;
                assert!((mean - want).abs() < 1e-9);
                assert!((1.0..=5.0).contains(&mean));
            }
            None => assert!(ratings.is_empty()),
        }
        reviewed += usize::from(stats.reviews > 0);
    }
    assert!(reviewed >= 5);
}

#[test]
fn bdhke_is_real_and_burns_redeem_issued_tokens() {
    let sim = simulation();
    let mut unblinded = 0;
    let mut burns = 0;
    for stats in sim.stats.values().filter(|s| s.role == MintRole::Honest) {
        let mut minted: BTreeMap<(Unit, Epoch), u64> = BTreeMap::new();
        let mut burnt: BTreeMap<(Unit, Epoch), u64> = BTreeMap::new();
        for ev in batches_of(sim, &stats.mint) {
            // Burns of this event redeem tokens issued in earlier events.
            let issued_before = minted.clone();
            for g in decode_4919(ev) {
                let key = (g.unit.clone(), g.epoch);
                let k = sim
                    .wallet
                    .keyset_key(&stats.mint, &g.unit, g.epoch)
                    .expect("known mint");
                let k_pub = sim
                    .wallet
                    .keyset_pubkey(&stats.mint, &g.unit, g.epoch)
                    .expect("known mint");
                for entry in &g.entries {
                    match entry {
                        Entry::Mint { b_, c_, amount } => {
                            let i = minted.entry(key.clone()).or_default();
                            let token = sim
                                .wallet
                                .token(&stats.mint, &g.unit, g.epoch, *i)
                                .expect("token");
                            *i += 1;
                            assert_eq!(token.amount.get(), *amount);
                            if *i % 5 != 1 {
                                continue;
                            }
                            let r = cashu::nuts::SecretKey::from(token.r);
                            let (b, _) =
                                dhke::blind_message(token.secret.as_bytes(), Some(r.clone()))
                                    .expect("blind");
                            assert_eq!(b.to_bytes(), *b_.as_bytes(), "B_ = Y + rG");
                            let c_ = cashu::nuts::PublicKey::from_slice(c_.as_bytes()).expect("C_");
                            let c = dhke::unblind_message(&c_, &r, &k_pub.into()).expect("unblind");
                            let y = dhke::hash_to_curve(token.secret.as_bytes()).expect("Y");
                            let k_y = dhke::sign_message(&k.into(), &y).expect("kY");
                            assert_eq!(c, k_y, "C = C_ - rK = k·hash_to_curve(secret)");
                            dhke::verify_message(&k.into(), c, token.secret.as_bytes())
                                .expect("the unblinded token verifies");
                            unblinded += 1;
                        }
                        Entry::Burn { y, amount } => {
                            let j = burnt.entry(key.clone()).or_default();
                            assert!(
                                *j < issued_before.get(&key).copied().unwrap_or(0),
                                "burn of a token not yet issued"
                            );
                            let token = sim
                                .wallet
                                .token(&stats.mint, &g.unit, g.epoch, *j)
                                .expect("token");
                            assert_eq!(token.y, *y);
                            assert_eq!(token.amount.get(), *amount);
                            *j += 1;
                            burns += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(unblinded >= 20, "only {unblinded} signatures unblinded");
    assert!(burns >= 50, "only {burns} burns checked");
}

#[test]
fn events_respect_the_protocol_limits() {
    let sim = simulation();
    for ev in &sim.events {
        assert!(ev.to_json().len() < kinds::MAX_EVENT_JSON_BYTES / 2);
    }
    let big = SimConfig {
        mints_per_batch: 1_900,
        burns_per_batch: 1_000,
        ..SimConfig::default()
    };
    assert!(matches!(
        Simulator::new(big),
        Err(SimConfigError::BatchTooLarge { .. })
    ));
    let fast = SimConfig {
        round_interval_secs: 2,
        ..SimConfig::default()
    };
    assert!(matches!(
        Simulator::new(fast),
        Err(SimConfigError::RoundIntervalTooShort(2))
    ));
}

#[test]
fn the_largest_allowed_batch_stays_under_512_kib() {
    // The largest batch `validate` accepts, encoded with the same encoder the simulator uses
    // (building it with real BDHKE would take minutes in a debug build).
    let mut config = SimConfig {
        mints_per_batch: 0,
        burns_per_batch: 0,
        ..SimConfig::default()
    };
    while config.validate().is_ok() {
        config.mints_per_batch += 50;
    }
    config.mints_per_batch -= 50;
    config.validate().expect("within the budget");
    let sample = Simulator::run(tiny_config(3)).expect("run");
    let (mut mint_entry, mut burn_entry) = (None, None);
    let bad = rejected(&sample);
    for ev in sample
        .events
        .iter()
        .filter(|e| e.kind == kinds::CASHU_DATA && !bad.contains_key(&e.id))
    {
        for g in decode_4919(ev) {
            for e in g.entries {
                match e {
                    Entry::Mint { b_, c_, amount } => mint_entry = Some((b_, c_, amount)),
                    Entry::Burn { y, amount } => burn_entry = Some((y, amount)),
                }
            }
        }
    }
    let (b_, c_, _) = mint_entry.expect("a MINT entry");
    let (y, _) = burn_entry.expect("a BURN entry");
    let big = Amount::new(1 << 40).expect("amount");
    let batch = |mints: usize, burns: usize| {
        CashuData {
            groups: vec![
                DataGroup {
                    epoch: Epoch::new(1 << 20).expect("epoch"),
                    unit: Unit::parse("sat").expect("unit"),
                    contents: GroupContents::Mint(vec![
                        MintEntry {
                            b_,
                            c_,
                            amount: big
                        };
                        mints
                    ]),
                },
                DataGroup {
                    epoch: Epoch::new(1 << 20).expect("epoch"),
                    unit: Unit::parse("usd").expect("unit"),
                    contents: GroupContents::Burn(vec![BurnEntry { y, amount: big }; burns]),
                },
            ],
            prev: None,
        }
        .encode_content()
        .len()
    };
    // An event's JSON is its content plus ~500 bytes of id, key, sig and one `e` tag.
    let worst = batch(config.mints_per_batch + 8, 0) + 600;
    assert!(worst > 300 * 1024, "the budget is used: {worst}");
    assert!(worst < kinds::MAX_EVENT_JSON_BYTES, "{worst} bytes");
    let mut burns_only = SimConfig {
        mints_per_batch: 0,
        burns_per_batch: 0,
        ..SimConfig::default()
    };
    while burns_only.validate().is_ok() {
        burns_only.burns_per_batch += 50;
    }
    let worst = batch(8, burns_only.burns_per_batch - 50) + 600;
    assert!(worst < kinds::MAX_EVENT_JSON_BYTES, "{worst} bytes");
}

#[test]
fn misbehaviours_start_at_their_round() {
    let sim = simulation();
    let start = small_config(7).start_time;
    let interval = small_config(7).round_interval_secs;
    let by_id: HashMap<EventId, &SignedEvent> = sim.events.iter().map(|e| (e.id, e)).collect();
    for f in &sim.expected {
        let first = f
            .events
            .iter()
            .map(|id| by_id[id].created_at)
            .min()
            .expect("events");
        // Every default misbehaviour starts by round 2.
        assert!(first < start + 3 * interval, "{:?} starts late", f.kind);
    }
    let defaults: BTreeSet<MisbehaviourKind> = small_config(7)
        .misbehaviours
        .iter()
        .map(|m| m.kind)
        .collect();
    assert_eq!(defaults, MisbehaviourKind::ALL.into_iter().collect());
}

#[test]
fn next_round_keeps_a_flat_working_set() {
    let config = SimConfig {
        honest_mints: 2,
        mints_per_batch: 2,
        burns_per_batch: 2,
        rotate_every: 3,
        reviewers: 4,
        reviews_per_round: 2,
        ..SimConfig::default()
    };
    let mut sim = Simulator::new(config).expect("config");
    let mut events = 0;
    for _ in 0..8 {
        events += sim.next_round().len();
    }
    let early = sim.working_set_len();
    let findings = sim.expected_findings().len();
    for _ in 8..40 {
        events += sim.next_round().len();
    }
    assert_eq!(sim.round(), 40);
    assert!(events > 40 * 12);
    assert_eq!(sim.working_set_len(), early);
    // Misbehaviours happen once; the rest of the run adds no findings.
    assert_eq!(sim.expected_findings().len(), findings);
    // Totals grow by one (unit, epoch) per rotation, not per round: 40 rounds / 3 ≈ 14 epochs.
    for stats in sim.stats().values() {
        assert!(
            stats.groups.len() <= 3 * (40 / 3 + 2),
            "{}",
            stats.groups.len()
        );
    }
}

/// One finding as (kind, mint, proving events, Y), for comparing sets.
type Found = (FindingKind, MintKey, BTreeSet<EventId>, Option<Point>);

/// A naive analysis of the output, written from PROTOCOL.md §3 alone.
fn reference_findings(sim: &Simulation) -> BTreeSet<Found> {
    let rejected = rejected(sim);
    let accepted: Vec<&SignedEvent> = sim
        .events
        .iter()
        .filter(|e| !rejected.contains_key(&e.id))
        .collect();
    let ids: BTreeSet<EventId> = accepted.iter().map(|e| e.id).collect();
    let batches: Vec<(&SignedEvent, Vec<Group>)> = accepted
        .iter()
        .filter(|e| e.kind == kinds::CASHU_DATA)
        .map(|e| (*e, decode_4919(e)))
        .collect();
    let mut found = BTreeSet::new();

    // Y → (mint → events burning it, with multiplicity).
    let mut burns: BTreeMap<Point, BTreeMap<MintKey, Vec<EventId>>> = BTreeMap::new();
    for (ev, groups) in &batches {
        for g in groups {
            for e in &g.entries {
                if let Entry::Burn { y, .. } = e {
                    burns
                        .entry(*y)
                        .or_default()
                        .entry(author(ev))
                        .or_default()
                        .push(ev.id);
                }
            }
        }
    }
    for (y, by_mint) in &burns {
        for (mint, evs) in by_mint {
            if evs.len() >= 2 {
                found.insert((
                    FindingKind::DoubleSpend,
                    *mint,
                    evs.iter().copied().collect(),
                    Some(*y),
                ));
            }
        }
        if by_mint.len() >= 2 {
            let all: BTreeSet<EventId> = by_mint.values().flatten().copied().collect();
            for mint in by_mint.keys() {
                found.insert((
                    FindingKind::CrossMintCollision,
                    *mint,
                    all.clone(),
                    Some(*y),
                ));
            }
        }
    }

    let mut children: BTreeMap<(MintKey, EventId), BTreeSet<EventId>> = BTreeMap::new();
    for (ev, _) in &batches {
        if let Some(prev) = e_tag(ev) {
            children
                .entry((author(ev), prev))
                .or_default()
                .insert(ev.id);
            if !ids.contains(&prev) {
                found.insert((FindingKind::Gap, author(ev), BTreeSet::from([ev.id]), None));
            }
        }
    }
    for ((mint, _), kids) in children {
        if kids.len() >= 2 {
            found.insert((FindingKind::Fork, mint, kids, None));
        }
    }

    let mints: BTreeSet<MintKey> = batches.iter().map(|(e, _)| author(e)).collect();
    for mint in &mints {
        let mine: Vec<&(&SignedEvent, Vec<Group>)> =
            batches.iter().filter(|(e, _)| author(e) == *mint).collect();
        let totals = totals_of(mine.iter().map(|(e, _)| *e));
        for (key, t) in &totals {
            if t.burn_amount > t.mint_amount {
                let evs = mine
                    .iter()
                    .filter(|(_, gs)| {
                        gs.iter()
                            .any(|g| (g.unit.clone(), g.epoch) == *key && !g.entries.is_empty())
                    })
                    .map(|(e, _)| e.id)
                    .collect();
                found.insert((FindingKind::LiabilityInversion, *mint, evs, None));
            }
        }
    }

    for fin in accepted.iter().filter(|e| e.kind == kinds::FIN_EPOCH) {
        let mint = author(fin);
        let (epoch, claimed, unit) = decode_1337(fin);
        let key = (
            Unit::parse(&unit).expect("unit"),
            Epoch::new(epoch).expect("epoch"),
        );
        let before: Vec<&SignedEvent> = batches
            .iter()
            .filter(|(e, gs)| {
                author(e) == mint
                    && e.created_at <= fin.created_at
                    && gs
                        .iter()
                        .any(|g| (g.unit.clone(), g.epoch) == key && !g.entries.is_empty())
            })
            .map(|(e, _)| *e)
            .collect();
        let truth = totals_of(before.iter().copied())
            .get(&key)
            .map_or(0, GroupTotals::outstanding);
        if i128::from(claimed) != truth {
            let mut evs: BTreeSet<EventId> = before.iter().map(|e| e.id).collect();
            evs.insert(fin.id);
            found.insert((FindingKind::BalanceMismatch, mint, evs, None));
        }
    }

    for info in accepted.iter().filter(|e| e.kind == kinds::MINT_INFO) {
        if decode_11467_pubkey(info).x_only() != author(info) {
            found.insert((
                FindingKind::IdentityMismatch,
                author(info),
                BTreeSet::from([info.id]),
                None,
            ));
        }
    }
    found
}

#[test]
fn a_reference_analysis_finds_exactly_the_expected_findings() {
    let sim = simulation();
    let expected: BTreeSet<Found> = sim
        .expected
        .iter()
        .map(|f| (f.kind, f.mint, f.events.clone(), f.y))
        .collect();
    assert_eq!(
        expected.len(),
        sim.expected.len(),
        "no finding is listed twice"
    );
    let reference = reference_findings(sim);
    assert_eq!(reference, expected);
}
