//! The finding-specific re-check of an evidence label: each finding of PROTOCOL.md §3 derived
//! again from the embedded events' parsed contents alone ([`CashuData::parse`],
//! [`FinEpoch::parse`], [`MintInfo::parse`]), so that a label proves its finding without trusting
//! mintwatch.
//!
//! A label carries its proof and nothing else: every embedded event must take part in the finding
//! (a 4919 that does not burn the `Y` of a double-spend, or has no entries in the (unit, epoch) of
//! a liability inversion, is refused), so an auditor never has to wonder which events matter.
//!
//! What the events alone cannot show, and an auditor checks against relays instead:
//! - **gap**: the absence of an event. The label claims "this `e` names an event that mintwatch
//!   had not seen after the grace period"; the re-check confirms that the embedded 4919 is the
//!   mint's, has an `e`, and that the `e` names none of the embedded events. Whether relays have
//!   the named event is for the auditor to ask them.
//! - **liability inversion** and **balance mismatch**: completeness. The totals are over the
//!   embedded events; that the mint published no other 4919 with entries in that (unit, epoch)
//!   (before the 1337, for a balance mismatch) is checked against relays.
//!
//! `detail` of a liability inversion or balance mismatch: `{"unit": str, "epoch": int}` (see
//! [`epoch_detail`]), optionally with the totals `"minted"` and `"burnt"` (sums of MINT and BURN
//! amounts over the embedded 4919 events), which must then be exactly the re-computed sums.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::broadcast::{CashuData, FinEpoch, GroupContents, MintInfo};
use crate::event::{EventId, SignedEvent};
use crate::findings::FindingKind;
use crate::kinds::{CASHU_DATA, FIN_EPOCH, MINT_INFO};
use crate::types::{Epoch, MintKey, Point, Unit};

/// The outcome of a finding-specific re-check that did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recheck {
    /// The embedded events' contents were parsed and show the finding.
    Confirmed,
    /// No re-check ran for this finding: only the structural checks hold.
    NotChecked,
}

/// A finding-specific re-check over verified events: the hook for the 4919/1337/11467 parsers.
///
/// It runs last in [`verify_evidence_label_with`](super::verify_evidence_label_with), after every structural check has passed, with
/// the finding, the content's `Y` and `detail`, the `p` mint key, and the embedded events (ids and
/// signatures already verified, authorship already checked). It returns
/// `Ok(Recheck::Confirmed)` when the events' parsed contents show the finding,
/// `Ok(Recheck::NotChecked)` when it has nothing to say about this finding, and `Err(why)` when
/// the contents contradict the label. Closures of the same shape implement it.
pub trait FindingRecheck {
    /// Re-checks one finding from its evidence.
    fn recheck(
        &self,
        finding: FindingKind,
        mint: &MintKey,
        y: Option<&Point>,
        events: &[SignedEvent],
        detail: Option<&Value>,
    ) -> Result<Recheck, String>;
}

impl<F> FindingRecheck for F
where
    F: Fn(
        FindingKind,
        &MintKey,
        Option<&Point>,
        &[SignedEvent],
        Option<&Value>,
    ) -> Result<Recheck, String>,
{
    fn recheck(
        &self,
        finding: FindingKind,
        mint: &MintKey,
        y: Option<&Point>,
        events: &[SignedEvent],
        detail: Option<&Value>,
    ) -> Result<Recheck, String> {
        self(finding, mint, y, events, detail)
    }
}

/// No finding-specific re-check: always [`Recheck::NotChecked`] (structural checks only).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRecheck;

impl FindingRecheck for NoRecheck {
    fn recheck(
        &self,
        _: FindingKind,
        _: &MintKey,
        _: Option<&Point>,
        _: &[SignedEvent],
        _: Option<&Value>,
    ) -> Result<Recheck, String> {
        Ok(Recheck::NotChecked)
    }
}

/// The re-check of every finding from the embedded events' parsed contents (see the module
/// docs). [`verify_evidence_label`](super::verify_evidence_label) uses it, so a label verifies
/// on its own including its finding. It never answers [`Recheck::NotChecked`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ProtocolRecheck;

/// The `detail` naming a (unit, epoch), as a liability inversion or balance mismatch label
/// carries it: `{"unit": ..., "epoch": ...}`.
pub fn epoch_detail(unit: &Unit, epoch: Epoch) -> Value {
    serde_json::json!({"unit": unit.as_str(), "epoch": epoch.get()})
}

/// MINT and BURN amount sums of one (unit, epoch). `u128`: 20,000 entries below 2^63 per event,
/// over any number of events, cannot overflow it in practice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Sums {
    minted: u128,
    burnt: u128,
}

impl FindingRecheck for ProtocolRecheck {
    fn recheck(
        &self,
        finding: FindingKind,
        mint: &MintKey,
        y: Option<&Point>,
        events: &[SignedEvent],
        detail: Option<&Value>,
    ) -> Result<Recheck, String> {
        if events.is_empty() {
            return Err("no embedded events".into());
        }
        match finding {
            FindingKind::DoubleSpend => double_spend(mint, need_y(finding, y)?, events),
            FindingKind::CrossMintCollision => cross_mint(mint, need_y(finding, y)?, events),
            FindingKind::Fork => fork(mint, events),
            FindingKind::Gap => gap(mint, events),
            FindingKind::LiabilityInversion => liability_inversion(mint, events, detail),
            FindingKind::BalanceMismatch => balance_mismatch(mint, events, detail),
            FindingKind::IdentityMismatch => identity_mismatch(mint, events),
        }?;
        Ok(Recheck::Confirmed)
    }
}

fn need_y(finding: FindingKind, y: Option<&Point>) -> Result<&Point, String> {
    y.ok_or_else(|| format!("{finding} names no Y"))
}

fn by(event: &SignedEvent, mint: &MintKey) -> bool {
    event.pubkey == *mint.as_bytes()
}

/// Parses embedded event `i` as a 4919 signed by `mint` (when given).
fn batch(i: usize, event: &SignedEvent, mint: Option<&MintKey>) -> Result<CashuData, String> {
    if event.kind != CASHU_DATA {
        return Err(format!("event {i} is kind {}, not a 4919", event.kind));
    }
    if let Some(mint) = mint {
        if !by(event, mint) {
            return Err(format!("event {i} is not signed by the mint {mint}"));
        }
    }
    CashuData::parse(event).map_err(|e| format!("event {i} ({}): {e}", event.id))
}

/// How many BURN entries of `data` carry `y`.
fn burns_of(data: &CashuData, y: &Point) -> usize {
    data.groups
        .iter()
        .map(|g| match &g.contents {
            GroupContents::Burn(entries) => entries.iter().filter(|e| e.y == *y).count(),
            GroupContents::Mint(_) => 0,
        })
        .sum()
}

fn double_spend(mint: &MintKey, y: &Point, events: &[SignedEvent]) -> Result<(), String> {
    let mut total = 0usize;
    for (i, event) in events.iter().enumerate() {
        let n = burns_of(&batch(i, event, Some(mint))?, y);
        if n == 0 {
            return Err(format!("event {i} does not burn {y}"));
        }
        total += n;
    }
    if total < 2 {
        return Err(format!("{y} is burnt only once in the embedded events"));
    }
    Ok(())
}

fn cross_mint(mint: &MintKey, y: &Point, events: &[SignedEvent]) -> Result<(), String> {
    let mut signers: BTreeSet<[u8; 32]> = BTreeSet::new();
    for (i, event) in events.iter().enumerate() {
        if burns_of(&batch(i, event, None)?, y) == 0 {
            return Err(format!("event {i} does not burn {y}"));
        }
        signers.insert(event.pubkey);
    }
    if !signers.contains(mint.as_bytes()) {
        return Err(format!("no embedded event of the mint {mint} burns {y}"));
    }
    if signers.len() < 2 {
        return Err(format!("{y} is burnt by one key only"));
    }
    Ok(())
}

fn fork(mint: &MintKey, events: &[SignedEvent]) -> Result<(), String> {
    let mut prevs: BTreeSet<EventId> = BTreeSet::new();
    let mut ids: BTreeSet<EventId> = BTreeSet::new();
    for (i, event) in events.iter().enumerate() {
        let prev = batch(i, event, Some(mint))?
            .prev
            .ok_or_else(|| format!("event {i} names no previous event"))?;
        prevs.insert(prev);
        ids.insert(event.id);
    }
    if ids.len() < 2 {
        return Err("a fork needs two different events".into());
    }
    match prevs.len() {
        1 => Ok(()),
        n => Err(format!(
            "the events name {n} different previous events, not one"
        )),
    }
}

fn gap(mint: &MintKey, events: &[SignedEvent]) -> Result<(), String> {
    let [event] = events else {
        return Err(format!(
            "a gap is proven by the one event whose e dangles, found {} events",
            events.len()
        ));
    };
    let prev = batch(0, event, Some(mint))?
        .prev
        .ok_or_else(|| "the event names no previous event".to_string())?;
    if prev == event.id {
        return Err("the event names itself".into());
    }
    Ok(())
}

/// What a liability inversion or balance mismatch `detail` says.
struct EpochClaim {
    key: (Unit, Epoch),
    minted: Option<u64>,
    burnt: Option<u64>,
}

/// The (unit, epoch) named by `detail`, and the totals it claims, if any.
fn detail_epoch(detail: Option<&Value>) -> Result<EpochClaim, String> {
    let obj = detail
        .and_then(Value::as_object)
        .ok_or_else(|| "detail: missing or not an object naming unit and epoch".to_string())?;
    let unit = obj
        .get("unit")
        .and_then(Value::as_str)
        .ok_or_else(|| "detail.unit: missing or not a string".to_string())
        .and_then(|u| Unit::parse(u).map_err(|e| format!("detail.unit: {e}")))?;
    let epoch = obj
        .get("epoch")
        .and_then(Value::as_u64)
        .ok_or_else(|| "detail.epoch: missing or not a non-negative integer".to_string())
        .and_then(|n| Epoch::new(n).map_err(|e| format!("detail.epoch: {e}")))?;
    let total = |key: &str| -> Result<Option<u64>, String> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| format!("detail.{key}: not a non-negative integer")),
        }
    };
    Ok(EpochClaim {
        key: (unit, epoch),
        minted: total("minted")?,
        burnt: total("burnt")?,
    })
}

/// Sums the entries of (unit, epoch) in 4919 event `i`; refuses an event with none.
fn add_entries(
    i: usize,
    data: &CashuData,
    key: &(Unit, Epoch),
    sums: &mut Sums,
) -> Result<(), String> {
    let mut entries = 0usize;
    for g in data
        .groups
        .iter()
        .filter(|g| g.unit == key.0 && g.epoch == key.1)
    {
        entries += g.contents.len();
        match &g.contents {
            GroupContents::Mint(es) => {
                sums.minted += es.iter().map(|e| u128::from(e.amount.get())).sum::<u128>();
            }
            GroupContents::Burn(es) => {
                sums.burnt += es.iter().map(|e| u128::from(e.amount.get())).sum::<u128>();
            }
        }
    }
    if entries == 0 {
        return Err(format!(
            "event {i} has no entries in ({}, epoch {})",
            key.0,
            key.1.get()
        ));
    }
    Ok(())
}

/// Checks the totals a `detail` claims against the re-computed ones.
fn check_claimed(sums: Sums, claim: &EpochClaim) -> Result<(), String> {
    for (name, claimed, actual) in [
        ("minted", claim.minted, sums.minted),
        ("burnt", claim.burnt, sums.burnt),
    ] {
        if let Some(claimed) = claimed {
            if u128::from(claimed) != actual {
                return Err(format!(
                    "detail.{name} is {claimed}, the embedded events sum to {actual}"
                ));
            }
        }
    }
    Ok(())
}

fn liability_inversion(
    mint: &MintKey,
    events: &[SignedEvent],
    detail: Option<&Value>,
) -> Result<(), String> {
    let claim = detail_epoch(detail)?;
    let key = &claim.key;
    let mut sums = Sums::default();
    for (i, event) in events.iter().enumerate() {
        add_entries(i, &batch(i, event, Some(mint))?, key, &mut sums)?;
    }
    check_claimed(sums, &claim)?;
    if sums.burnt <= sums.minted {
        return Err(format!(
            "({}, epoch {}): BURN {} does not exceed MINT {}",
            key.0,
            key.1.get(),
            sums.burnt,
            sums.minted
        ));
    }
    Ok(())
}

fn balance_mismatch(
    mint: &MintKey,
    events: &[SignedEvent],
    detail: Option<&Value>,
) -> Result<(), String> {
    let fins: Vec<(usize, &SignedEvent)> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind == FIN_EPOCH)
        .collect();
    let [(fin_index, fin_event)] = fins.as_slice() else {
        return Err(format!(
            "a balance mismatch is proven by exactly one 1337, found {}",
            fins.len()
        ));
    };
    if !by(fin_event, mint) {
        return Err(format!(
            "event {fin_index} is not signed by the mint {mint}"
        ));
    }
    let fin = FinEpoch::parse(fin_event)
        .map_err(|e| format!("event {fin_index} ({}): {e}", fin_event.id))?;
    let key = (fin.unit.clone(), fin.epoch);
    let claim = match detail {
        None => None,
        Some(_) => {
            let claim = detail_epoch(detail)?;
            let named = &claim.key;
            if *named != key {
                return Err(format!(
                    "detail names ({}, epoch {}), the 1337 closes ({}, epoch {})",
                    named.0,
                    named.1.get(),
                    key.0,
                    key.1.get()
                ));
            }
            Some(claim)
        }
    };
    let mut sums = Sums::default();
    for (i, event) in events.iter().enumerate() {
        if i == *fin_index {
            continue;
        }
        let data = batch(i, event, Some(mint))?;
        if event.created_at > fin_event.created_at {
            return Err(format!("event {i} was created after the 1337"));
        }
        add_entries(i, &data, &key, &mut sums)?;
    }
    if let Some(claim) = &claim {
        check_claimed(sums, claim)?;
    }
    let adds_up = sums.minted >= sums.burnt
        && sums.minted - sums.burnt == u128::from(fin.outstanding_balance);
    if adds_up {
        return Err(format!(
            "({}, epoch {}): the 1337 claims {}, MINT − BURN is the same",
            key.0,
            key.1.get(),
            fin.outstanding_balance
        ));
    }
    Ok(())
}

fn identity_mismatch(mint: &MintKey, events: &[SignedEvent]) -> Result<(), String> {
    for (i, event) in events.iter().enumerate() {
        if event.kind != MINT_INFO {
            return Err(format!("event {i} is kind {}, not a 11467", event.kind));
        }
        if !by(event, mint) {
            return Err(format!("event {i} is not signed by the mint {mint}"));
        }
        let info = MintInfo::parse(event).map_err(|e| format!("event {i} ({}): {e}", event.id))?;
        match info.signer_matches(&event.pubkey) {
            Some(false) => {}
            Some(true) => return Err(format!("event {i}: the content pubkey is the signer's key")),
            None => return Err(format!("event {i}: the content names no valid pubkey")),
        }
    }
    Ok(())
}
