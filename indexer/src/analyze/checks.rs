//! The checks of PROTOCOL.md §3 over what a batch changed: double-spends and cross-mint
//! collisions, forks, liability inversions, balance mismatches and gaps. The store gathers the
//! facts; the decisions are here.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use serde_json::json;

use mintwatch_protocol::{Epoch, EventId, FindingKind, MintKey, Point, Unit};
use mintwatch_store::{NewFinding, StoreError};

use super::Analyzer;

impl Analyzer {
    /// Double-spends and cross-mint collisions among the `Y`s of a batch (sorted, repeats
    /// kept). Only the `Y`s the filter has seen before, or that repeat within the batch, are
    /// looked up in the store: the others were never burnt before.
    pub(super) async fn burn_findings(
        &mut self,
        ys: &[Point],
    ) -> Result<Vec<NewFinding>, StoreError> {
        if ys.is_empty() {
            return Ok(Vec::new());
        }
        self.load_spent().await?;
        let Some(filter) = self.spent.as_mut() else {
            return Ok(Vec::new());
        };
        let mut suspects: BTreeSet<Point> = BTreeSet::new();
        let mut previous: Option<&Point> = None;
        for y in ys {
            if previous == Some(y) || filter.contains(y) {
                suspects.insert(*y);
            }
            previous = Some(y);
        }
        for y in ys {
            filter.insert(y);
        }
        metrics::counter!("mintwatch_spent_filter_lookups_total").increment(suspects.len() as u64);
        if suspects.is_empty() {
            return Ok(Vec::new());
        }
        let suspects: Vec<Point> = suspects.into_iter().collect();
        // y → mint → event ids (with repeats: a Y twice in one event is a double-spend).
        let mut by_y: BTreeMap<Point, BTreeMap<MintKey, Vec<EventId>>> = BTreeMap::new();
        for (y, mint, event) in self.store.repeated_burns(&suspects).await? {
            by_y.entry(y)
                .or_default()
                .entry(mint)
                .or_default()
                .push(event);
        }
        let mut out = Vec::new();
        for (point, mints) in by_y {
            let all_events: Vec<EventId> = {
                let set: BTreeSet<EventId> = mints.values().flatten().copied().collect();
                set.into_iter().collect()
            };
            for (mint_key, events) in &mints {
                if events.len() > 1 {
                    let ids: BTreeSet<EventId> = events.iter().copied().collect();
                    out.push(NewFinding {
                        mint: *mint_key,
                        kind: FindingKind::DoubleSpend,
                        key: point.to_hex(),
                        y: Some(point),
                        unit: None,
                        epoch: None,
                        event_ids: ids.into_iter().collect(),
                        detail: json!({ "Y": point.to_hex(), "times": events.len() }),
                    });
                }
                if mints.len() > 1 {
                    out.push(NewFinding {
                        mint: *mint_key,
                        kind: FindingKind::CrossMintCollision,
                        key: point.to_hex(),
                        y: Some(point),
                        unit: None,
                        epoch: None,
                        event_ids: all_events.clone(),
                        detail: json!({
                            "Y": point.to_hex(),
                            "mints": mints.keys().map(MintKey::to_hex).collect::<Vec<_>>(),
                        }),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Forks: two different 4919 of one mint naming the same previous event.
    pub(super) async fn fork_findings(
        &self,
        prevs: &BTreeSet<EventId>,
    ) -> Result<Vec<NewFinding>, StoreError> {
        Ok(self
            .store
            .forks(prevs)
            .await?
            .into_iter()
            .map(|fork| NewFinding {
                mint: fork.mint,
                kind: FindingKind::Fork,
                key: fork.prev.to_hex(),
                y: None,
                unit: None,
                epoch: None,
                detail: json!({ "prev": fork.prev.to_hex(), "children": fork.children.len() }),
                event_ids: fork.children,
            })
            .collect())
    }

    /// Liability inversions: BURN amounts above MINT amounts for a (unit, epoch). A finding whose
    /// totals add up again (MINT events arrived late) is resolved.
    pub(super) async fn liability_findings(
        &self,
        groups: &BTreeSet<(MintKey, Unit, Epoch)>,
    ) -> Result<(Vec<NewFinding>, u64), StoreError> {
        let mut out = Vec::new();
        let mut balanced = Vec::new();
        for sums in self.store.group_sums(groups).await? {
            let (mint, unit, epoch) = (sums.mint, sums.unit, sums.epoch);
            let key = format!("{unit}:{epoch}");
            if sums.burnt > sums.minted {
                out.push(NewFinding {
                    mint,
                    kind: FindingKind::LiabilityInversion,
                    key,
                    y: None,
                    unit: Some(unit.clone()),
                    epoch: Some(epoch),
                    event_ids: self.store.group_events(&mint, &unit, epoch, None).await?,
                    detail: json!({
                        "unit": unit.as_str(), "epoch": epoch.get(),
                        "burnt": sums.burnt.to_string(), "minted": sums.minted.to_string(),
                    }),
                });
            } else {
                balanced.push((mint, key));
            }
        }
        let resolved = self
            .store
            .resolve_findings(FindingKind::LiabilityInversion, &balanced)
            .await?;
        Ok((out, resolved))
    }

    /// Balance mismatches: each 1337 of a touched (mint, unit, epoch) against MINT − BURN over
    /// the mint's 4919 events created at or before it.
    pub(super) async fn balance_findings(
        &self,
        groups: &BTreeSet<(MintKey, Unit, Epoch)>,
    ) -> Result<(Vec<NewFinding>, u64), StoreError> {
        let mut out = Vec::new();
        let mut balanced = Vec::new();
        for close in self.store.epoch_closes(groups).await? {
            let (mint, unit, epoch) = (close.mint, close.unit, close.epoch);
            let (claimed, minted, burnt) = (close.claimed, close.minted, close.burnt);
            let key = close.event_id.to_hex();
            if claimed != minted - burnt {
                let mut events = vec![close.event_id];
                events.extend(
                    self.store
                        .group_events(&mint, &unit, epoch, Some(close.created_at))
                        .await?,
                );
                out.push(NewFinding {
                    mint,
                    kind: FindingKind::BalanceMismatch,
                    key,
                    y: None,
                    unit: Some(unit.clone()),
                    epoch: Some(epoch),
                    event_ids: events,
                    detail: json!({
                        "unit": unit.as_str(), "epoch": epoch.get(),
                        "claimed": claimed.to_string(), "minted": minted.to_string(),
                        "burnt": burnt.to_string(), "computed": (minted - burnt).to_string(),
                    }),
                });
            } else {
                balanced.push((mint, key));
            }
        }
        let resolved = self
            .store
            .resolve_findings(FindingKind::BalanceMismatch, &balanced)
            .await?;
        Ok((out, resolved))
    }

    /// Resolves gaps whose missing event has arrived; adds their mints to `touched`.
    pub(super) async fn resolve_gaps(
        &self,
        touched: &mut BTreeSet<MintKey>,
    ) -> Result<u64, StoreError> {
        let mints = self.store.resolve_filled_gaps().await?;
        let resolved = mints.len() as u64;
        touched.extend(mints);
        Ok(resolved)
    }

    /// Records gaps: 4919 events whose `e` names an event not seen (as a 4919 of the same mint)
    /// although the grace period since the child arrived has passed. Returns the mints concerned.
    pub async fn sweep_gaps(&mut self) -> Result<BTreeSet<MintKey>, StoreError> {
        self.last_gap_sweep = Some(Instant::now());
        let findings: Vec<NewFinding> = self
            .store
            .unrecorded_gaps(self.config.gap_grace)
            .await?
            .into_iter()
            .map(|gap| NewFinding {
                mint: gap.mint,
                kind: FindingKind::Gap,
                key: gap.event_id.to_hex(),
                y: None,
                unit: None,
                epoch: None,
                event_ids: vec![gap.event_id],
                detail: json!({ "missing": hex::encode(&gap.missing) }),
            })
            .collect();
        self.store.upsert_findings(&findings).await?;
        Ok(findings.iter().map(|f| f.mint).collect())
    }
}
