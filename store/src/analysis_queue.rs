//! The analysis queue: what a committed batch still needs analysed, recorded in the batch's own
//! transaction, so that a crash between the commit and the analysis loses no finding.
//!
//! A row's life (`migrations/0007_analysis_queue.sql`): [`Store::write_batch`] writes it with the
//! batch; [`Store::record_analysis`] records the batch's findings and marks it analysed in one
//! transaction; [`Store::ranks_recomputed`] deletes the analysed rows once the ranks of the mints
//! they touched are recomputed. After a restart, [`Store::queued_batches`] gives back every row
//! left, the unanalysed ones rebuilt from the stored events.

use std::collections::{BTreeSet, HashSet};

use serde_json::json;
use sqlx::{PgConnection, Row};

use mintwatch_protocol::broadcast::GroupContents;
use mintwatch_protocol::{Epoch, EventId, FindingKind, MintKey, Point, Unit};

use crate::batch::{Content, Verified};
use crate::records::{self, NewFinding};
use crate::{Store, StoreError};

/// What one stored batch changed, as the analyze stage needs it: small and owned, so the store
/// stage can hand it over and go on with the next batch while this one is analyzed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchChanges {
    /// Every burnt `Y` of the new events, sorted, repeats kept (a `Y` twice in the batch is a
    /// double-spend).
    pub ys: Vec<Point>,
    /// Previous events named by new 4919s.
    pub prevs: BTreeSet<EventId>,
    /// (mint, unit, epoch) groups whose totals moved.
    pub groups: BTreeSet<(MintKey, Unit, Epoch)>,
    /// Whether any new 4919 arrived (it may resolve a gap).
    pub has_chain: bool,
    /// Findings read off single events (identity mismatches).
    pub findings: Vec<NewFinding>,
    /// Mints whose stored data changed.
    pub changed: BTreeSet<MintKey>,
}

impl BatchChanges {
    /// The changes of a batch: `new` are the events it inserted, `changed` the mints whose
    /// stored data changed.
    pub fn of(new: &[&Verified], changed: &BTreeSet<MintKey>) -> Self {
        let mut out = BatchChanges {
            changed: changed.clone(),
            ..BatchChanges::default()
        };
        for v in new {
            let Some(signer) = MintKey::from_x_only_bytes(v.event.pubkey).ok() else {
                continue;
            };
            match &v.content {
                Content::CashuData(data) => {
                    out.has_chain = true;
                    if let Some(prev) = data.prev {
                        out.prevs.insert(prev);
                    }
                    for g in &data.groups {
                        out.groups.insert((signer, g.unit.clone(), g.epoch));
                        if let GroupContents::Burn(entries) = &g.contents {
                            out.ys.extend(entries.iter().map(|e| e.y));
                        }
                    }
                }
                Content::FinEpoch(fin) => {
                    out.groups.insert((signer, fin.unit.clone(), fin.epoch));
                }
                Content::MintInfo(info) if info.signer_matches(&v.event.pubkey) == Some(false) => {
                    out.findings.push(NewFinding {
                        mint: signer,
                        kind: FindingKind::IdentityMismatch,
                        key: v.event.id.to_hex(),
                        y: None,
                        unit: None,
                        epoch: None,
                        event_ids: vec![v.event.id],
                        detail: json!({
                            "signer": signer.to_hex(),
                            "content_pubkey": info.pubkey.map(|p| p.to_hex()),
                        }),
                    });
                }
                _ => {}
            }
        }
        out.ys.sort_unstable();
        out
    }

    /// Whether the batch changed nothing the analysis looks at.
    pub fn is_empty(&self) -> bool {
        self.ys.is_empty()
            && self.prevs.is_empty()
            && self.groups.is_empty()
            && !self.has_chain
            && self.findings.is_empty()
            && self.changed.is_empty()
    }
}

/// A row of the analysis queue, as a restarted indexer finds it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedBatch {
    /// Its place in the queue (batches are analysed in this order).
    pub seq: i64,
    /// Whether its findings are recorded (only the ranks of `changes.changed` are then due).
    pub analysed: bool,
    /// What it changed; once analysed, only `changed` is filled (every mint it touched).
    pub changes: BatchChanges,
}

/// Queues the analysis of a batch in the batch's transaction; `None` when it changed nothing.
pub(crate) async fn enqueue(
    conn: &mut PgConnection,
    new_events: &[EventId],
    changes: &BatchChanges,
) -> Result<Option<i64>, StoreError> {
    if new_events.is_empty() && changes.is_empty() {
        return Ok(None);
    }
    let events: Vec<&[u8]> = new_events.iter().map(|e| e.0.as_slice()).collect();
    let groups: Vec<serde_json::Value> = changes
        .groups
        .iter()
        .map(|(mint, unit, epoch)| json!([mint.to_hex(), unit.as_str(), epoch.get()]))
        .collect();
    let mints: Vec<&[u8]> = changes
        .changed
        .iter()
        .map(|m| m.as_bytes().as_slice())
        .collect();
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO analysis_queue (events, groups, findings, mints)
         VALUES ($1, $2, $3, $4) RETURNING seq",
    )
    .bind(events)
    .bind(serde_json::Value::Array(groups))
    .bind(findings_json(&changes.findings))
    .bind(mints)
    .fetch_one(conn)
    .await?;
    Ok(Some(seq))
}

fn findings_json(findings: &[NewFinding]) -> serde_json::Value {
    serde_json::Value::Array(
        findings
            .iter()
            .map(|f| {
                json!({
                    "mint": f.mint.to_hex(),
                    "kind": f.kind.as_str(),
                    "key": f.key,
                    "y": f.y.map(|y| y.to_hex()),
                    "unit": f.unit.as_ref().map(|u| u.as_str()),
                    "epoch": f.epoch.map(|e| e.get()),
                    "event_ids": f.event_ids.iter().map(EventId::to_hex).collect::<Vec<_>>(),
                    "detail": f.detail,
                })
            })
            .collect(),
    )
}

fn findings_of(value: &serde_json::Value) -> Result<Vec<NewFinding>, StoreError> {
    const FIELD: &str = "analysis_queue.findings";
    let bad = |why: &str| StoreError::corrupt(FIELD, why);
    let text =
        |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    let mut out = Vec::new();
    for f in value.as_array().ok_or_else(|| bad("not an array"))? {
        let mint = text(f, "mint").ok_or_else(|| bad("no mint"))?;
        let kind = text(f, "kind").ok_or_else(|| bad("no kind"))?;
        let event_ids = f
            .get("event_ids")
            .and_then(|x| x.as_array())
            .ok_or_else(|| bad("no event_ids"))?
            .iter()
            .map(|id| {
                id.as_str()
                    .and_then(|s| EventId::parse(s).ok())
                    .ok_or_else(|| bad("event id"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.push(NewFinding {
            mint: mint.parse().map_err(|_| bad("mint"))?,
            kind: kind.parse().map_err(|_| bad("kind"))?,
            key: text(f, "key").ok_or_else(|| bad("no key"))?,
            y: text(f, "y")
                .map(|y| y.parse().map_err(|_| bad("y")))
                .transpose()?,
            unit: text(f, "unit")
                .map(|u| u.parse().map_err(|_| bad("unit")))
                .transpose()?,
            epoch: f
                .get("epoch")
                .and_then(|e| e.as_u64())
                .map(|e| Epoch::new(e).map_err(|_| bad("epoch")))
                .transpose()?,
            event_ids,
            detail: f.get("detail").cloned().unwrap_or(serde_json::Value::Null),
        });
    }
    Ok(out)
}

fn groups_of(value: &serde_json::Value) -> Result<BTreeSet<(MintKey, Unit, Epoch)>, StoreError> {
    const FIELD: &str = "analysis_queue.groups";
    let bad = |why: &str| StoreError::corrupt(FIELD, why);
    let mut out = BTreeSet::new();
    for g in value.as_array().ok_or_else(|| bad("not an array"))? {
        let (Some(mint), Some(unit), Some(epoch)) = (
            g.get(0).and_then(|x| x.as_str()),
            g.get(1).and_then(|x| x.as_str()),
            g.get(2).and_then(|x| x.as_u64()),
        ) else {
            return Err(bad("not [mint, unit, epoch]"));
        };
        out.insert((
            mint.parse().map_err(|_| bad("mint"))?,
            unit.parse().map_err(|_| bad("unit"))?,
            Epoch::new(epoch).map_err(|_| bad("epoch"))?,
        ));
    }
    Ok(out)
}

fn mint_keys(rows: Vec<Vec<u8>>) -> Result<BTreeSet<MintKey>, StoreError> {
    rows.iter()
        .map(|k| records::mint_key(k, "analysis_queue.mints"))
        .collect()
}

impl Store {
    /// Records a batch's findings and, in the same transaction, marks its queued analysis done
    /// with every mint the analysis touched (their ranks are then the only thing due). `seq` is
    /// `None` for work that is not a queued batch (gap sweeps): then only the findings.
    pub async fn record_analysis(
        &self,
        seq: Option<i64>,
        findings: &[NewFinding],
        touched: &BTreeSet<MintKey>,
    ) -> Result<u64, StoreError> {
        // Most batches find nothing: then the mark is one statement, with no transaction around
        // it (this runs once per batch).
        let mut tx = if findings.is_empty() {
            None
        } else {
            Some(self.pool.begin().await?)
        };
        let written = match tx.as_mut() {
            Some(tx) => crate::findings::upsert_findings_in(tx, findings).await?,
            None => 0,
        };
        if let Some(seq) = seq {
            let mints: Vec<&[u8]> = touched.iter().map(|m| m.as_bytes().as_slice()).collect();
            let mark = sqlx::query(
                "UPDATE analysis_queue
                 SET analysed = true, groups = '[]', findings = '[]', mints = $2
                 WHERE seq = $1",
            )
            .bind(seq)
            .bind(mints);
            match tx.as_mut() {
                Some(tx) => mark.execute(&mut **tx).await?,
                None => mark.execute(&self.pool).await?,
            };
        }
        if let Some(tx) = tx {
            tx.commit().await?;
        }
        Ok(written)
    }

    /// Forgets the analysed batches up to `seq`: the ranks of every mint they touched have been
    /// recomputed since their analysis.
    pub async fn ranks_recomputed(&self, seq: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM analysis_queue WHERE analysed AND seq <= $1")
            .bind(seq)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// How many batches are queued (not analysed, or analysed but their ranks still due).
    pub async fn queued_count(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM analysis_queue")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Up to `limit` queued batches after `after`, in order. An unanalysed batch's burnt `Y`s
    /// and chain links are read back from `burns` and `chain_links` (only its new events wrote
    /// them), so its [`BatchChanges`] equals the one its store stage computed.
    pub async fn queued_batches(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<QueuedBatch>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, analysed, events, groups, findings, mints FROM analysis_queue
             WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let seq: i64 = row.try_get("seq")?;
            let analysed: bool = row.try_get("analysed")?;
            let changed = mint_keys(row.try_get("mints")?)?;
            if analysed {
                out.push(QueuedBatch {
                    seq,
                    analysed,
                    changes: BatchChanges {
                        changed,
                        ..BatchChanges::default()
                    },
                });
                continue;
            }
            let events: Vec<Vec<u8>> = row.try_get("events")?;
            let groups = groups_of(&row.try_get("groups")?)?;
            let mut changes = BatchChanges {
                findings: findings_of(&row.try_get("findings")?)?,
                changed,
                ..BatchChanges::default()
            };
            if !events.is_empty() {
                self.rebuild_burns_and_links(&events, &groups, &mut changes)
                    .await?;
            }
            changes.groups = groups;
            out.push(QueuedBatch {
                seq,
                analysed,
                changes,
            });
        }
        Ok(out)
    }

    /// The burnt `Y`s and chain links of `events`, as [`BatchChanges::of`] read them off the
    /// events. `burns` has no index by event, so the burns are looked up by the mints of the
    /// batch's groups (indexed) and then filtered by event.
    async fn rebuild_burns_and_links(
        &self,
        events: &[Vec<u8>],
        groups: &BTreeSet<(MintKey, Unit, Epoch)>,
        changes: &mut BatchChanges,
    ) -> Result<(), StoreError> {
        let mints: Vec<&[u8]> = groups
            .iter()
            .map(|(m, _, _)| m.as_bytes().as_slice())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if !mints.is_empty() {
            let ys: Vec<Vec<u8>> = sqlx::query_scalar(
                "SELECT y FROM burns WHERE mint = ANY($1) AND event_id = ANY($2)",
            )
            .bind(&mints)
            .bind(events)
            .fetch_all(&self.pool)
            .await?;
            // A stored Y that is not a point was never in a batch's changes either (its event
            // was refused); as in `for_each_burnt_y`, it is skipped.
            changes
                .ys
                .extend(ys.iter().filter_map(|y| Point::from_bytes(y).ok()));
            changes.ys.sort_unstable();
        }
        let links = sqlx::query("SELECT prev FROM chain_links WHERE event_id = ANY($1)")
            .bind(events)
            .fetch_all(&self.pool)
            .await?;
        changes.has_chain = !links.is_empty();
        for link in links {
            let prev: Option<Vec<u8>> = link.try_get("prev")?;
            if let Some(prev) = prev {
                changes
                    .prevs
                    .insert(records::event_id(&prev, "chain_links.prev")?);
            }
        }
        Ok(())
    }
}
