//! The simulator, the crate's parsers and the evidence re-check agree: every event the simulator
//! publishes is checked with the crate's own verification and parsers, every finding it expects
//! becomes an evidence label that [`ProtocolRecheck`] confirms, and the honest mints' events,
//! re-checked as if they proved a finding, prove none.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::OnceLock;

use mintwatch_protocol::broadcast::{CashuData, FinEpoch, GroupContents, MintInfo};
use mintwatch_protocol::event::{self, EventId, SignedEvent, VerifyError};
use mintwatch_protocol::kinds;
use mintwatch_protocol::nip87::{Deletion, MintAnnouncement, Recommendation};
use mintwatch_protocol::output::{
    build_evidence_label, epoch_detail, verify_evidence_label, verify_evidence_label_with,
    Evidence, FindingRecheck, ProtocolRecheck, Recheck,
};
use mintwatch_protocol::{Epoch, FindingKind, MintKey, Point, Reason, Unit};
use mintwatch_sim::{MintRole, RejectReason, SimConfig, Simulation, Simulator};
use nostr::Keys;

fn default_sim() -> &'static Simulation {
    static SIM: OnceLock<Simulation> = OnceLock::new();
    SIM.get_or_init(|| Simulator::run(SimConfig::default()).expect("valid config"))
}

/// More honest mints than misbehaving ones, another seed.
fn crowded_sim() -> &'static Simulation {
    static SIM: OnceLock<Simulation> = OnceLock::new();
    SIM.get_or_init(|| {
        Simulator::run(SimConfig {
            seed: 42,
            honest_mints: 16,
            rounds: 6,
            mints_per_batch: 10,
            burns_per_batch: 8,
            ..SimConfig::default()
        })
        .expect("valid config")
    })
}

fn sims() -> [(&'static str, &'static Simulation); 2] {
    [("default", default_sim()), ("crowded", crowded_sim())]
}

fn rejects(sim: &Simulation) -> HashMap<EventId, RejectReason> {
    sim.rejects.iter().map(|r| (r.id, r.reason)).collect()
}

fn author(e: &SignedEvent) -> MintKey {
    MintKey::from_x_only_bytes(e.pubkey).expect("author key")
}

/// Parses an event with the parser of its kind; the error's text on failure.
fn parse_by_kind(e: &SignedEvent) -> Result<(), String> {
    let r = match e.kind {
        kinds::CASHU_DATA => CashuData::parse(e).map(drop),
        kinds::FIN_EPOCH => FinEpoch::parse(e).map(drop),
        kinds::MINT_INFO => MintInfo::parse(e).map(drop),
        kinds::MINT_ANNOUNCEMENT => MintAnnouncement::parse(e).map(drop),
        kinds::RECOMMENDATION => Recommendation::parse(e).map(drop),
        kinds::DELETION => Deletion::parse(e).map(drop),
        other => return Err(format!("the simulator published an unknown kind {other}")),
    };
    r.map_err(|e| e.to_string())
}

#[test]
fn events_verify_and_parse_unless_rejected() {
    for (name, sim) in sims() {
        let rejects = rejects(sim);
        let batch = event::verify_batch(&sim.events);
        assert_eq!(batch.len(), sim.events.len());
        let mut per_kind: BTreeMap<u16, usize> = BTreeMap::new();
        let mut refused: HashSet<RejectReason> = HashSet::new();
        for (e, batch_result) in sim.events.iter().zip(&batch) {
            let single = e.verify();
            assert_eq!(
                &single, batch_result,
                "{name}: verify and verify_batch disagree"
            );
            match rejects.get(&e.id) {
                None => {
                    assert_eq!(single, Ok(()), "{name}: event {} of kind {}", e.id, e.kind);
                    if let Err(why) = parse_by_kind(e) {
                        panic!(
                            "{name}: event {} of kind {} does not parse: {why}",
                            e.id, e.kind
                        );
                    }
                    *per_kind.entry(e.kind).or_default() += 1;
                }
                Some(&reason) => {
                    assert_eq!(
                        author(e),
                        sim.rejects
                            .iter()
                            .find(|r| r.id == e.id)
                            .expect("listed")
                            .mint
                    );
                    match reason {
                        RejectReason::BadSignature => {
                            assert_eq!(single, Err(VerifyError::BadSignature), "{name}")
                        }
                        RejectReason::ContentChangedAfterSigning => {
                            assert_eq!(single, Err(VerifyError::IdMismatch), "{name}")
                        }
                        RejectReason::BadBase64 => {
                            assert_eq!(single, Ok(()), "{name}: malformed events are signed");
                            let err = CashuData::parse(e).expect_err("bad base64 is refused");
                            assert_eq!(err.field, "content", "{name}");
                            assert!(
                                matches!(&err.reason, Reason::Malformed(why) if why.contains("base64")),
                                "{name}: {err}"
                            );
                        }
                        RejectReason::OffCurvePoint => {
                            assert_eq!(single, Ok(()), "{name}: malformed events are signed");
                            let err = CashuData::parse(e).expect_err("an off-curve Y is refused");
                            assert!(err.field.ends_with(".Y"), "{name}: field {}", err.field);
                            assert!(err.field.starts_with("content["), "{name}: {}", err.field);
                            assert_eq!(err.reason, Reason::NotOnCurve, "{name}");
                        }
                    }
                    refused.insert(reason);
                }
            }
        }
        assert_eq!(
            refused.len(),
            4,
            "{name}: every reject reason occurs: {refused:?}"
        );
        for kind in [
            kinds::CASHU_DATA,
            kinds::FIN_EPOCH,
            kinds::MINT_INFO,
            kinds::MINT_ANNOUNCEMENT,
            kinds::RECOMMENDATION,
            kinds::DELETION,
        ] {
            assert!(
                per_kind.get(&kind).copied().unwrap_or(0) > 0,
                "{name}: no kind {kind}"
            );
        }
        println!("{name}: {per_kind:?} parsed, {} rejected", rejects.len());
    }
}

/// The evidence of one expected finding, as the indexer would publish it.
fn evidence_for(
    by_id: &HashMap<EventId, &SignedEvent>,
    f: &mintwatch_sim::ExpectedFinding,
) -> Evidence {
    let detail = match (&f.unit, f.epoch) {
        (Some(unit), Some(epoch)) => Some(epoch_detail(unit, epoch)),
        _ => None,
    };
    Evidence {
        finding: f.kind,
        mint: f.mint,
        y: f.y,
        events: f
            .events
            .iter()
            .map(|id| (*by_id.get(id).expect("the proving event is published")).clone())
            .collect(),
        detail,
    }
}

#[test]
fn every_expected_finding_makes_a_label_that_rechecks() {
    let indexer = Keys::generate();
    for (name, sim) in sims() {
        let by_id: HashMap<EventId, &SignedEvent> = sim.events.iter().map(|e| (e.id, e)).collect();
        let mut kinds_seen = BTreeSet::new();
        for f in &sim.expected {
            let evidence = evidence_for(&by_id, f);
            let label = build_evidence_label(&indexer, &evidence)
                .unwrap_or_else(|e| panic!("{name}: {} against {}: {e}", f.kind, f.mint));
            let received = SignedEvent::from_json(&label.to_json()).expect("parse");
            let v = verify_evidence_label(&received).expect("verifies");
            assert_eq!(v.recheck, Recheck::Confirmed, "{name}: {}", f.kind);
            assert_eq!((v.finding, v.mint, v.y), (f.kind, f.mint, f.y));
            let ids: BTreeSet<EventId> = v.events.iter().map(|e| e.id).collect();
            assert_eq!(ids, f.events);
            let again = verify_evidence_label_with(&received, &ProtocolRecheck).expect("verifies");
            assert_eq!(again.recheck, Recheck::Confirmed);
            kinds_seen.insert(f.kind);
        }
        assert_eq!(
            kinds_seen,
            FindingKind::ALL.into_iter().collect(),
            "{name}: every finding kind is exercised"
        );
        println!("{name}: {} labels re-checked", sim.expected.len());
    }
}

/// An honest mint's accepted 4919 events, parsed.
fn honest_batches<'a>(sim: &'a Simulation, mint: &MintKey) -> Vec<(&'a SignedEvent, CashuData)> {
    sim.events
        .iter()
        .filter(|e| e.kind == kinds::CASHU_DATA && author(e) == *mint)
        .map(|e| (e, CashuData::parse(e).expect("an honest 4919 parses")))
        .collect()
}

/// Re-checks `finding` over `events`: true when refused for a reason that mentions `because`
/// (so a refusal for an unrelated reason, such as a parse error, does not count).
fn refuted(
    (finding, because): (FindingKind, &str),
    mint: &MintKey,
    y: Option<&Point>,
    events: &[SignedEvent],
    detail: Option<&serde_json::Value>,
) -> bool {
    match ProtocolRecheck.recheck(finding, mint, y, events, detail) {
        Ok(r) => panic!("{finding} re-checked as {r:?}"),
        Err(why) => {
            assert!(
                why.contains(because),
                "{finding}: {why:?} lacks {because:?}"
            );
            true
        }
    }
}

#[test]
fn honest_mints_prove_nothing_when_rechecked() {
    for (name, sim) in sims() {
        let ids: BTreeSet<EventId> = sim.events.iter().map(|e| e.id).collect();
        let rejects = rejects(sim);
        // Y → every accepted 4919 (of any mint) that burns it.
        let mut burners: HashMap<Point, Vec<&SignedEvent>> = HashMap::new();
        for e in sim
            .events
            .iter()
            .filter(|e| e.kind == kinds::CASHU_DATA && !rejects.contains_key(&e.id))
        {
            for g in CashuData::parse(e).expect("parses").groups {
                if let GroupContents::Burn(entries) = g.contents {
                    for b in entries {
                        burners.entry(b.y).or_default().push(e);
                    }
                }
            }
        }
        let mut checks = 0usize;
        let honest: Vec<MintKey> = sim
            .stats
            .values()
            .filter(|s| s.role == MintRole::Honest)
            .map(|s| s.mint)
            .collect();
        assert!(honest.len() >= 6, "{name}");
        for mint in &honest {
            let batches = honest_batches(sim, mint);
            assert!(batches.len() >= 2);

            // Double-spend and cross-mint collision: every Y it burns, with every event burning it.
            let mut ys: BTreeSet<Point> = BTreeSet::new();
            for (_, data) in &batches {
                for g in &data.groups {
                    if let GroupContents::Burn(entries) = &g.contents {
                        ys.extend(entries.iter().map(|b| b.y));
                    }
                }
            }
            assert!(!ys.is_empty());
            for y in &ys {
                let all: Vec<SignedEvent> = burners[y].iter().map(|e| (*e).clone()).collect();
                assert!(refuted(
                    (FindingKind::DoubleSpend, "only once"),
                    mint,
                    Some(y),
                    &all,
                    None
                ));
                assert!(refuted(
                    (FindingKind::CrossMintCollision, "one key only"),
                    mint,
                    Some(y),
                    &all,
                    None
                ));
                checks += 2;
            }

            // Fork: no two of its events name the same previous event.
            for (i, (a, pa)) in batches.iter().enumerate() {
                for (b, pb) in &batches[i + 1..] {
                    assert!(pa.prev.is_none() || pa.prev != pb.prev);
                    let pair = [(*a).clone(), (*b).clone()];
                    assert!(refuted(
                        (FindingKind::Fork, "previous event"),
                        mint,
                        None,
                        &pair,
                        None
                    ));
                    checks += 1;
                }
            }

            // Gap: the events cannot show an absence; the auditor's check is against what was
            // published, and every `e` names a published event.
            for (e, data) in &batches {
                match data.prev {
                    Some(prev) => assert!(ids.contains(&prev), "{name}: {} dangles", e.id),
                    None => assert!(refuted(
                        (FindingKind::Gap, "names no previous event"),
                        mint,
                        None,
                        std::slice::from_ref(*e),
                        None
                    )),
                }
                checks += 1;
            }

            // Liability inversion: each (unit, epoch) over the events with entries in it.
            let mut keys: BTreeSet<(Unit, Epoch)> = BTreeSet::new();
            for (_, data) in &batches {
                keys.extend(
                    data.groups
                        .iter()
                        .filter(|g| !g.contents.is_empty())
                        .map(|g| (g.unit.clone(), g.epoch)),
                );
            }
            let with_entries = |key: &(Unit, Epoch), until: u64| -> Vec<SignedEvent> {
                batches
                    .iter()
                    .filter(|(e, data)| {
                        e.created_at <= until
                            && data.groups.iter().any(|g| {
                                (g.unit.clone(), g.epoch) == *key && !g.contents.is_empty()
                            })
                    })
                    .map(|(e, _)| (*e).clone())
                    .collect()
            };
            for key in &keys {
                let events = with_entries(key, u64::MAX);
                let detail = epoch_detail(&key.0, key.1);
                assert!(refuted(
                    (FindingKind::LiabilityInversion, "does not exceed"),
                    mint,
                    None,
                    &events,
                    Some(&detail)
                ));
                checks += 1;
            }

            // Balance mismatch: each 1337 over the events it counts.
            let fins: Vec<&SignedEvent> = sim
                .events
                .iter()
                .filter(|e| e.kind == kinds::FIN_EPOCH && author(e) == *mint)
                .collect();
            assert!(!fins.is_empty(), "{name}: honest mints rotate keys");
            for fin in fins {
                let parsed = FinEpoch::parse(fin).expect("parses");
                let mut events = vec![fin.clone()];
                events.extend(with_entries(&(parsed.unit, parsed.epoch), fin.created_at));
                assert!(refuted(
                    (FindingKind::BalanceMismatch, "the same"),
                    mint,
                    None,
                    &events,
                    None
                ));
                checks += 1;
            }

            // Identity mismatch: every 11467 it signed names its own key.
            for info in sim
                .events
                .iter()
                .filter(|e| e.kind == kinds::MINT_INFO && author(e) == *mint)
            {
                assert!(refuted(
                    (FindingKind::IdentityMismatch, "signer's key"),
                    mint,
                    None,
                    std::slice::from_ref(info),
                    None
                ));
                checks += 1;
            }
        }
        println!("{name}: {checks} re-checks of honest mints refuted");
        assert!(
            checks > 100 * honest.len() / 6,
            "{name}: only {checks} checks"
        );
    }
}
