//! Analyze: turn what the store holds into the findings of PROTOCOL.md §3, the per-mint
//! statistics and the rank of §4. Runs after each committed batch and touches only what the batch
//! can have changed: the `Y`s it burnt, the chain links it added, the (mint, unit, epoch) totals it
//! moved, and the mints the store reports as changed. Every check is a function of the stored
//! events alone, so the same set of events gives the same findings whatever order they arrived in;
//! the only clock is the gap grace period, and the rank's "as of" time.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;
use sqlx::{PgPool, Row};

use mintwatch_protocol::broadcast::GroupContents;
use mintwatch_protocol::reputation::{self, RankInputs};
use mintwatch_protocol::{Epoch, EventId, FindingKind, IdentityLevel, MintKey, Point, Unit};

use crate::pipeline::{Content, Verified};
use crate::store::{NewFinding, Store, StoreError};

mod spent_filter;

use spent_filter::SpentFilter;

/// Settings of the analyze stage.
#[derive(Debug, Clone)]
pub struct AnalyzeConfig {
    /// How long an `e` may name an unseen event before it is a gap.
    pub gap_grace: Duration,
    /// The time ranks are computed as of (unix seconds); `None` means now. Fixed in tests so two
    /// runs compare exactly.
    pub as_of: Option<u64>,
    /// How often the gap sweep runs at most.
    pub gap_sweep_every: Duration,
    /// How often the statistics and ranks of the mints that batches changed are recomputed at
    /// most. Findings are recorded with every batch; ranks of changed mints are collected and
    /// recomputed together (a batch of reviews touches ~1,000 mints, and recomputing them costs
    /// the same for one review as for a thousand). [`Analyzer::flush_ranks`] recomputes what is
    /// pending at once (ingest calls it when it stops), so the final ranks do not depend on it.
    pub rank_every: Duration,
    /// Bytes of the in-memory filter of burnt `Y`s (fixed: memory does not grow with the
    /// corpus; a fuller filter only asks the database more often).
    pub spent_filter_bytes: usize,
}

impl Default for AnalyzeConfig {
    fn default() -> Self {
        Self {
            gap_grace: Duration::from_secs(3600),
            as_of: None,
            gap_sweep_every: Duration::from_secs(5),
            rank_every: Duration::from_secs(5),
            spent_filter_bytes: 16 << 20,
        }
    }
}

/// What one stored batch changed, as the analyze stage needs it: small and owned, so the store
/// stage can hand it over and go on with the next batch while this one is analyzed.
#[derive(Debug, Clone, Default)]
pub struct BatchChanges {
    /// Every burnt `Y` of the new events, sorted, repeats kept (a `Y` twice in the batch is a
    /// double-spend).
    ys: Vec<Point>,
    /// Previous events named by new 4919s.
    prevs: BTreeSet<EventId>,
    /// (mint, unit, epoch) groups whose totals moved.
    groups: BTreeSet<(MintKey, Unit, Epoch)>,
    /// Whether any new 4919 arrived (it may resolve a gap).
    has_chain: bool,
    /// Findings read off single events (identity mismatches).
    findings: Vec<NewFinding>,
    /// Mints whose stored data changed.
    changed: BTreeSet<MintKey>,
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
}

/// What one analyze step did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnalyzeOutcome {
    /// Findings recorded or refreshed, by kind.
    pub findings: BTreeMap<FindingKind, u64>,
    /// Findings resolved (a gap whose event arrived, totals that now add up).
    pub resolved: u64,
    /// Mints whose statistics and rank were recomputed.
    pub ranked: usize,
}

/// The analyze stage.
#[derive(Debug)]
pub struct Analyzer {
    store: Store,
    config: AnalyzeConfig,
    last_gap_sweep: Option<Instant>,
    /// Mints whose ranks are pending (see [`AnalyzeConfig::rank_every`]).
    dirty: BTreeSet<MintKey>,
    last_rank: Option<Instant>,
    /// Every burnt `Y` stored, once loaded.
    spent: Option<SpentFilter>,
}

/// Records how long one part of the analysis took, per phase.
fn phase(name: &'static str, started: Instant) {
    metrics::histogram!("mintwatch_analyze_phase_seconds", "phase" => name)
        .record(started.elapsed().as_secs_f64());
}

fn hex_key(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn to_event_id(bytes: &[u8]) -> Option<EventId> {
    <[u8; 32]>::try_from(bytes).ok().map(EventId)
}

fn to_mint(bytes: &[u8]) -> Option<MintKey> {
    <[u8; 32]>::try_from(bytes)
        .ok()
        .and_then(|b| MintKey::from_x_only_bytes(b).ok())
}

fn parse_i128(s: &str) -> i128 {
    // Sums come back as numeric text; anything unparsable would be a database bug, and 0 keeps
    // the analysis going while the finding detail shows the raw value.
    s.split('.')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Event ids (raw) per mint key (raw), for one `Y`.
type EventsByMint = BTreeMap<Vec<u8>, Vec<Vec<u8>>>;

type GroupColumns = (Vec<Vec<u8>>, Vec<String>, Vec<i64>);

fn group_columns(groups: &BTreeSet<(MintKey, Unit, Epoch)>) -> GroupColumns {
    let mut cols: GroupColumns = (Vec::new(), Vec::new(), Vec::new());
    for (mint, unit, epoch) in groups {
        cols.0.push(mint.as_bytes().to_vec());
        cols.1.push(unit.as_str().to_string());
        cols.2.push(epoch.get() as i64);
    }
    cols
}

fn group_of(row: &sqlx::postgres::PgRow) -> Result<Option<(MintKey, Unit, Epoch)>, StoreError> {
    let mint: Vec<u8> = row.try_get("mint")?;
    let unit: String = row.try_get("unit")?;
    let epoch: i64 = row.try_get("epoch")?;
    Ok(
        match (
            to_mint(&mint),
            Unit::parse(&unit),
            Epoch::from_i128(epoch.into()),
        ) {
            (Some(m), Ok(u), Ok(e)) => Some((m, u, e)),
            _ => None,
        },
    )
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Analyzer {
    /// An analyzer over `store`.
    pub fn new(store: Store, config: AnalyzeConfig) -> Self {
        Self {
            store,
            config,
            last_gap_sweep: None,
            dirty: BTreeSet::new(),
            last_rank: None,
            spent: None,
        }
    }

    fn pool(&self) -> &PgPool {
        self.store.pool()
    }

    /// Analyzes the effect of one committed batch. Batches must be analyzed in the order they
    /// were stored (each only after it was committed; later batches may already be committed).
    pub async fn after_batch(
        &mut self,
        changes: BatchChanges,
    ) -> Result<AnalyzeOutcome, StoreError> {
        let started = Instant::now();
        let BatchChanges {
            ys,
            prevs,
            groups,
            has_chain,
            mut findings,
            changed,
        } = changes;
        let mut outcome = AnalyzeOutcome::default();
        findings.extend(self.burn_findings(&ys).await?);
        findings.extend(self.fork_findings(&prevs).await?);
        phase("burns_forks", started);
        let t = Instant::now();
        let (liability, resolved_l) = self.liability_findings(&groups).await?;
        findings.extend(liability);
        phase("liability", t);
        let t = Instant::now();
        let (balance, resolved_b) = self.balance_findings(&groups).await?;
        findings.extend(balance);
        phase("balance", t);
        outcome.resolved += resolved_l + resolved_b;
        for f in &findings {
            *outcome.findings.entry(f.kind).or_default() += 1;
        }
        let t = Instant::now();
        self.store.upsert_findings(&findings).await?;
        phase("upsert_findings", t);

        let t = Instant::now();
        let mut touched: BTreeSet<MintKey> = changed;
        touched.extend(findings.iter().map(|f| f.mint));
        if has_chain || !prevs.is_empty() {
            outcome.resolved += self.resolve_gaps(&mut touched).await?;
        }
        let due = self
            .last_gap_sweep
            .is_none_or(|t| t.elapsed() >= self.config.gap_sweep_every);
        if due {
            let gaps = self.sweep_gaps().await?;
            *outcome.findings.entry(FindingKind::Gap).or_default() += gaps.len() as u64;
            touched.extend(gaps);
        }
        phase("gaps", t);
        self.dirty.extend(touched);
        let rank_due = self
            .last_rank
            .is_none_or(|t| t.elapsed() >= self.config.rank_every);
        if rank_due {
            outcome.ranked = self.flush_ranks().await?;
        }
        outcome.findings.retain(|_, n| *n > 0);
        Ok(outcome)
    }

    /// Recomputes the statistics and ranks of every mint changed since the last time. Returns
    /// how many were updated.
    pub async fn flush_ranks(&mut self) -> Result<usize, StoreError> {
        let t = Instant::now();
        self.last_rank = Some(t);
        let dirty = std::mem::take(&mut self.dirty);
        match self.refresh_mints(&dirty).await {
            Ok(n) => {
                phase("ranks", t);
                Ok(n)
            }
            Err(e) => {
                // Keep them pending: the next batch or flush tries again.
                self.dirty.extend(dirty);
                Err(e)
            }
        }
    }

    /// Completes the analysis of everything stored so far, for a stop: resolves the gaps whose
    /// events arrived, records those past their grace period (whatever the sweep interval), and
    /// recomputes every pending rank. After it, the findings and ranks depend only on the stored
    /// events (and the clock, for gaps), not on when the last periodic work happened to run.
    pub async fn finish(&mut self) -> Result<AnalyzeOutcome, StoreError> {
        let mut outcome = AnalyzeOutcome::default();
        let mut touched = BTreeSet::new();
        outcome.resolved = self.resolve_gaps(&mut touched).await?;
        let gaps = self.sweep_gaps().await?;
        if !gaps.is_empty() {
            outcome.findings.insert(FindingKind::Gap, gaps.len() as u64);
        }
        self.dirty.extend(touched);
        self.dirty.extend(gaps);
        outcome.ranked = self.flush_ranks().await?;
        Ok(outcome)
    }

    /// Loads the filter of burnt `Y`s from the store if it is not loaded yet. Ingest calls it
    /// before it stores anything; otherwise the first batch with burns does.
    pub async fn load_spent(&mut self) -> Result<(), StoreError> {
        if self.spent.is_some() {
            return Ok(());
        }
        use futures::TryStreamExt;
        let started = Instant::now();
        let mut filter = SpentFilter::new(self.config.spent_filter_bytes);
        let mut rows = sqlx::query_scalar::<_, Vec<u8>>("SELECT y FROM burns").fetch(self.pool());
        let mut n = 0u64;
        while let Some(y) = rows.try_next().await? {
            // A stored Y that is not a point cannot be asked about either; skipping it is safe.
            if let Ok(y) = Point::from_bytes(&y) {
                filter.insert(&y);
                n += 1;
            }
        }
        drop(rows);
        tracing::info!(
            ys = n,
            secs = started.elapsed().as_secs_f64(),
            "filter of burnt Ys loaded"
        );
        self.spent = Some(filter);
        Ok(())
    }

    /// Double-spends and cross-mint collisions among the `Y`s of a batch (sorted, repeats
    /// kept). Only the `Y`s the filter has seen before, or that repeat within the batch, are
    /// looked up in the store: the others were never burnt before.
    async fn burn_findings(&mut self, ys: &[Point]) -> Result<Vec<NewFinding>, StoreError> {
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
        let ys: Vec<Vec<u8>> = suspects.iter().map(|y| y.as_bytes().to_vec()).collect();
        let rows = sqlx::query(
            "SELECT b.y, b.mint, b.event_id
             FROM burns b
             JOIN (SELECT y FROM burns WHERE y = ANY($1) GROUP BY y HAVING count(*) > 1) d
               ON d.y = b.y
             ORDER BY b.y, b.mint, b.event_id",
        )
        .bind(&ys)
        .fetch_all(self.pool())
        .await?;
        // y → mint → event ids (with repeats: a Y twice in one event is a double-spend).
        let mut by_y: BTreeMap<Vec<u8>, EventsByMint> = BTreeMap::new();
        for row in rows {
            let y: Vec<u8> = row.try_get("y")?;
            let mint: Vec<u8> = row.try_get("mint")?;
            let event: Vec<u8> = row.try_get("event_id")?;
            by_y.entry(y)
                .or_default()
                .entry(mint)
                .or_default()
                .push(event);
        }
        let mut out = Vec::new();
        for (y, mints) in by_y {
            let Ok(point) = Point::from_bytes(&y) else {
                continue;
            };
            let all_events: Vec<EventId> = {
                let set: BTreeSet<EventId> = mints
                    .values()
                    .flatten()
                    .filter_map(|e| to_event_id(e))
                    .collect();
                set.into_iter().collect()
            };
            for (mint, events) in &mints {
                let Some(mint_key) = to_mint(mint) else {
                    continue;
                };
                if events.len() > 1 {
                    let ids: BTreeSet<EventId> =
                        events.iter().filter_map(|e| to_event_id(e)).collect();
                    out.push(NewFinding {
                        mint: mint_key,
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
                        mint: mint_key,
                        kind: FindingKind::CrossMintCollision,
                        key: point.to_hex(),
                        y: Some(point),
                        unit: None,
                        epoch: None,
                        event_ids: all_events.clone(),
                        detail: json!({
                            "Y": point.to_hex(),
                            "mints": mints.keys().map(|m| hex_key(m)).collect::<Vec<_>>(),
                        }),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Forks: two different 4919 of one mint naming the same previous event.
    async fn fork_findings(
        &self,
        prevs: &BTreeSet<EventId>,
    ) -> Result<Vec<NewFinding>, StoreError> {
        if prevs.is_empty() {
            return Ok(Vec::new());
        }
        let prevs: Vec<Vec<u8>> = prevs.iter().map(|p| p.0.to_vec()).collect();
        let rows = sqlx::query(
            "SELECT mint, prev, array_agg(event_id ORDER BY event_id) AS events
             FROM chain_links WHERE prev = ANY($1)
             GROUP BY mint, prev HAVING count(*) > 1",
        )
        .bind(&prevs)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::new();
        for row in rows {
            let mint: Vec<u8> = row.try_get("mint")?;
            let prev: Vec<u8> = row.try_get("prev")?;
            let events: Vec<Vec<u8>> = row.try_get("events")?;
            let Some(mint) = to_mint(&mint) else { continue };
            out.push(NewFinding {
                mint,
                kind: FindingKind::Fork,
                key: hex_key(&prev),
                y: None,
                unit: None,
                epoch: None,
                event_ids: events.iter().filter_map(|e| to_event_id(e)).collect(),
                detail: json!({ "prev": hex_key(&prev), "children": events.len() }),
            });
        }
        Ok(out)
    }

    /// The mint's 4919 events with entries in (unit, epoch), optionally only those created at or
    /// before `until`.
    async fn group_events(
        &self,
        mint: &MintKey,
        unit: &Unit,
        epoch: Epoch,
        until: Option<i64>,
    ) -> Result<Vec<EventId>, StoreError> {
        let rows: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT event_id FROM event_totals
             WHERE mint = $1 AND unit = $2 AND epoch = $3
               AND ($4::bigint IS NULL OR created_at <= $4)
             ORDER BY 1",
        )
        .bind(mint.as_bytes().to_vec())
        .bind(unit.as_str())
        .bind(epoch.get() as i64)
        .bind(until)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().filter_map(|e| to_event_id(e)).collect())
    }

    /// Resolves the unresolved findings of `kind` named by (mint, key).
    async fn resolve_many(
        &self,
        kind: FindingKind,
        keys: &[(MintKey, String)],
    ) -> Result<u64, StoreError> {
        if keys.is_empty() {
            return Ok(0);
        }
        let mints: Vec<Vec<u8>> = keys.iter().map(|(m, _)| m.as_bytes().to_vec()).collect();
        let names: Vec<&str> = keys.iter().map(|(_, k)| k.as_str()).collect();
        let done = sqlx::query(
            "UPDATE findings f SET resolved = true, updated_at = now()
             FROM unnest($2::bytea[], $3::text[]) AS u(mint, finding_key)
             WHERE f.kind = $1 AND NOT f.resolved
               AND f.mint = u.mint AND f.finding_key = u.finding_key",
        )
        .bind(kind.as_str())
        .bind(&mints)
        .bind(&names)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Liability inversions: BURN amounts above MINT amounts for a (unit, epoch). A finding whose
    /// totals add up again (MINT events arrived late) is resolved.
    async fn liability_findings(
        &self,
        groups: &BTreeSet<(MintKey, Unit, Epoch)>,
    ) -> Result<(Vec<NewFinding>, u64), StoreError> {
        if groups.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let (mints, units, epochs) = group_columns(groups);
        let rows = sqlx::query(
            "SELECT s.mint, s.unit, s.epoch,
                    s.burn_amount::text AS burned, s.mint_amount::text AS minted
             FROM mint_stats s
             JOIN unnest($1::bytea[], $2::text[], $3::bigint[]) AS u(mint, unit, epoch)
               ON s.mint = u.mint AND s.unit = u.unit AND s.epoch = u.epoch",
        )
        .bind(&mints)
        .bind(&units)
        .bind(&epochs)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::new();
        let mut balanced = Vec::new();
        for row in rows {
            let Some((mint, unit, epoch)) = group_of(&row)? else {
                continue;
            };
            let burned = parse_i128(&row.try_get::<String, _>("burned")?);
            let minted = parse_i128(&row.try_get::<String, _>("minted")?);
            let key = format!("{unit}:{epoch}");
            if burned > minted {
                out.push(NewFinding {
                    mint,
                    kind: FindingKind::LiabilityInversion,
                    key,
                    y: None,
                    unit: Some(unit.clone()),
                    epoch: Some(epoch),
                    event_ids: self.group_events(&mint, &unit, epoch, None).await?,
                    detail: json!({
                        "unit": unit.as_str(), "epoch": epoch.get(),
                        "burnt": burned.to_string(), "minted": minted.to_string(),
                    }),
                });
            } else {
                balanced.push((mint, key));
            }
        }
        let resolved = self
            .resolve_many(FindingKind::LiabilityInversion, &balanced)
            .await?;
        Ok((out, resolved))
    }

    /// Balance mismatches: each 1337 of a touched (mint, unit, epoch) against MINT − BURN over
    /// the mint's 4919 events created at or before it.
    async fn balance_findings(
        &self,
        groups: &BTreeSet<(MintKey, Unit, Epoch)>,
    ) -> Result<(Vec<NewFinding>, u64), StoreError> {
        if groups.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let (mints, units, epochs) = group_columns(groups);
        let rows = sqlx::query(
            "SELECT f.event_id, f.mint, f.unit, f.epoch, f.created_at,
                    f.outstanding_balance::text AS claimed,
                    coalesce(t.minted, 0)::text AS minted,
                    coalesce(t.burnt, 0)::text AS burnt
             FROM fin_epochs f
             JOIN unnest($1::bytea[], $2::text[], $3::bigint[]) AS u(mint, unit, epoch)
               ON f.mint = u.mint AND f.unit = u.unit AND f.epoch = u.epoch
             LEFT JOIN LATERAL (
                 SELECT sum(e.mint_amount) AS minted, sum(e.burn_amount) AS burnt
                 FROM event_totals e
                 WHERE e.mint = f.mint AND e.unit = f.unit AND e.epoch = f.epoch
                   AND e.created_at <= f.created_at
             ) t ON true",
        )
        .bind(&mints)
        .bind(&units)
        .bind(&epochs)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::new();
        let mut balanced = Vec::new();
        for row in rows {
            let Some((mint, unit, epoch)) = group_of(&row)? else {
                continue;
            };
            let id: Vec<u8> = row.try_get("event_id")?;
            let Some(id) = to_event_id(&id) else { continue };
            let created_at: i64 = row.try_get("created_at")?;
            let claimed = parse_i128(&row.try_get::<String, _>("claimed")?);
            let minted = parse_i128(&row.try_get::<String, _>("minted")?);
            let burnt = parse_i128(&row.try_get::<String, _>("burnt")?);
            let key = id.to_hex();
            if claimed != minted - burnt {
                let mut events = vec![id];
                events.extend(
                    self.group_events(&mint, &unit, epoch, Some(created_at))
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
            .resolve_many(FindingKind::BalanceMismatch, &balanced)
            .await?;
        Ok((out, resolved))
    }

    /// Resolves gaps whose missing event has arrived; adds their mints to `touched`.
    async fn resolve_gaps(&self, touched: &mut BTreeSet<MintKey>) -> Result<u64, StoreError> {
        let mints: Vec<Vec<u8>> = sqlx::query_scalar(
            "UPDATE findings f SET resolved = true, updated_at = now()
             FROM chain_links c
             JOIN events p ON p.id = c.prev AND p.pubkey = c.mint AND p.kind = 4919
             WHERE f.kind = 'gap' AND NOT f.resolved AND c.event_id = f.event_ids[1]
             RETURNING f.mint",
        )
        .fetch_all(self.pool())
        .await?;
        touched.extend(mints.iter().filter_map(|m| to_mint(m)));
        Ok(mints.len() as u64)
    }

    /// Records gaps: 4919 events whose `e` names an event not seen (as a 4919 of the same mint)
    /// although the grace period since the child arrived has passed. Returns the mints concerned.
    pub async fn sweep_gaps(&mut self) -> Result<BTreeSet<MintKey>, StoreError> {
        self.last_gap_sweep = Some(Instant::now());
        let rows = sqlx::query(
            "SELECT c.event_id, c.mint, c.prev
             FROM chain_links c JOIN events ev ON ev.id = c.event_id
             WHERE c.prev IS NOT NULL
               AND ev.received_at <= now() - make_interval(secs => $1)
               AND NOT EXISTS (SELECT 1 FROM events p
                               WHERE p.id = c.prev AND p.pubkey = c.mint AND p.kind = 4919)
               AND NOT EXISTS (SELECT 1 FROM findings f
                               WHERE f.mint = c.mint AND f.kind = 'gap'
                                 AND f.finding_key = encode(c.event_id, 'hex'))",
        )
        .bind(self.config.gap_grace.as_secs_f64())
        .fetch_all(self.pool())
        .await?;
        let mut findings = Vec::new();
        for row in rows {
            let id: Vec<u8> = row.try_get("event_id")?;
            let mint: Vec<u8> = row.try_get("mint")?;
            let prev: Vec<u8> = row.try_get("prev")?;
            let (Some(id), Some(mint)) = (to_event_id(&id), to_mint(&mint)) else {
                continue;
            };
            findings.push(NewFinding {
                mint,
                kind: FindingKind::Gap,
                key: id.to_hex(),
                y: None,
                unit: None,
                epoch: None,
                event_ids: vec![id],
                detail: json!({ "missing": hex_key(&prev) }),
            });
        }
        self.store.upsert_findings(&findings).await?;
        Ok(findings.iter().map(|f| f.mint).collect())
    }

    /// Recomputes identity level, statistics and rank for `mints`, in a few set-based queries.
    /// Returns how many mints were updated.
    pub async fn refresh_mints(&self, mints: &BTreeSet<MintKey>) -> Result<usize, StoreError> {
        if mints.is_empty() {
            return Ok(0);
        }
        let keys: Vec<Vec<u8>> = mints.iter().map(|m| m.as_bytes().to_vec()).collect();
        let mut report: HashMap<Vec<u8>, MintFacts> = keys
            .iter()
            .map(|k| (k.clone(), MintFacts::default()))
            .collect();

        for row in sqlx::query(
            "SELECT m.key,
                    (SELECT substring(i.content_pubkey from 2) = m.key FROM mint_infos i
                      WHERE i.mint = m.key AND i.content_pubkey IS NOT NULL) AS info_match,
                    EXISTS (SELECT 1 FROM announcements a
                             WHERE a.mint = m.key AND a.author = m.key) AS self_announced,
                    EXISTS (SELECT 1 FROM announcements a
                             WHERE a.mint = m.key AND a.author <> m.key) AS operator_announced,
                    coalesce(m.last_active, m.last_seen) AS last_seen
             FROM mints m WHERE m.key = ANY($1)",
        )
        .bind(&keys)
        .fetch_all(self.pool())
        .await?
        {
            let key: Vec<u8> = row.try_get("key")?;
            let facts = report.entry(key).or_default();
            facts.exists = true;
            let info_match: Option<bool> = row.try_get("info_match")?;
            let self_announced: bool = row.try_get("self_announced")?;
            let operator: bool = row.try_get("operator_announced")?;
            facts.identity = match (info_match, self_announced, operator) {
                (Some(false), _, _) => IdentityLevel::Mismatch,
                (Some(true), _, _) | (None, true, _) => IdentityLevel::SelfSigned,
                (None, false, true) => IdentityLevel::Operator,
                _ => IdentityLevel::Unbound,
            };
            facts.last_seen = row
                .try_get::<i64, _>("last_seen")
                .ok()
                .map(|t| t.max(0) as u64);
        }

        for row in sqlx::query(
            "SELECT c.mint, count(*) AS events, count(p.id) AS linked,
                    count(*) FILTER (WHERE c.prev IS NULL) AS starts,
                    min(c.created_at) AS first, max(c.created_at) AS last,
                    (array_agg(c.event_id ORDER BY c.created_at DESC, c.event_id))[1] AS head
             FROM chain_links c
             LEFT JOIN events p ON p.id = c.prev AND p.pubkey = c.mint AND p.kind = 4919
             WHERE c.mint = ANY($1) GROUP BY c.mint",
        )
        .bind(&keys)
        .fetch_all(self.pool())
        .await?
        {
            let key: Vec<u8> = row.try_get("mint")?;
            let facts = report.entry(key).or_default();
            facts.chain_events = row.try_get::<i64, _>("events")?.max(0) as u64;
            facts.chain_linked = row.try_get::<i64, _>("linked")?.max(0) as u64;
            facts.chain_starts = row.try_get::<i64, _>("starts")?.max(0) as u64;
            facts.first_4919 = row.try_get::<i64, _>("first").ok();
            facts.last_4919 = row.try_get::<i64, _>("last").ok();
            facts.head = row.try_get::<Vec<u8>, _>("head").ok().map(|h| hex_key(&h));
        }

        for row in sqlx::query(
            "SELECT mint, percentile_cont(0.5) WITHIN GROUP (ORDER BY d) AS median
             FROM (SELECT mint, created_at - lag(created_at) OVER (PARTITION BY mint
                                                                   ORDER BY created_at) AS d
                   FROM chain_links WHERE mint = ANY($1)) s
             WHERE d IS NOT NULL GROUP BY mint",
        )
        .bind(&keys)
        .fetch_all(self.pool())
        .await?
        {
            let key: Vec<u8> = row.try_get("mint")?;
            report.entry(key).or_default().median_interval = row.try_get("median")?;
        }

        for row in sqlx::query(
            "SELECT mint, count(*) AS closes FROM fin_epochs WHERE mint = ANY($1) GROUP BY mint",
        )
        .bind(&keys)
        .fetch_all(self.pool())
        .await?
        {
            let key: Vec<u8> = row.try_get("mint")?;
            report.entry(key).or_default().epoch_closes =
                row.try_get::<i64, _>("closes")?.max(0) as u64;
        }

        for row in sqlx::query(
            "SELECT target_mint AS mint, count(*) AS reviews, count(DISTINCT author) AS authors,
                    count(rating) AS rated, count(DISTINCT author) FILTER (WHERE rating IS NOT NULL)
                        AS rated_authors,
                    avg(rating) AS mean
             FROM live_reviews WHERE target_mint = ANY($1) GROUP BY target_mint",
        )
        .bind(&keys)
        .fetch_all(self.pool())
        .await?
        {
            let key: Vec<u8> = row.try_get("mint")?;
            let facts = report.entry(key).or_default();
            facts.reviews = row.try_get::<i64, _>("reviews")?.max(0) as u64;
            facts.review_authors = row.try_get::<i64, _>("authors")?.max(0) as u64;
            facts.rated = row.try_get::<i64, _>("rated")?.max(0) as u64;
            facts.rated_authors = row.try_get::<i64, _>("rated_authors")?.max(0) as u64;
            facts.mean_rating = row.try_get("mean")?;
        }

        for row in sqlx::query(
            "SELECT mint, kind, count(*) AS n FROM findings
             WHERE mint = ANY($1) AND NOT resolved GROUP BY mint, kind",
        )
        .bind(&keys)
        .fetch_all(self.pool())
        .await?
        {
            let key: Vec<u8> = row.try_get("mint")?;
            let kind: String = row.try_get("kind")?;
            let n = row.try_get::<i64, _>("n")?.max(0) as u64;
            if let Ok(kind) = kind.parse::<FindingKind>() {
                report.entry(key).or_default().findings.insert(kind, n);
            }
        }

        let as_of = self.config.as_of.unwrap_or_else(now_secs);
        let mut rows_key = Vec::new();
        let mut rows_identity = Vec::new();
        let mut rows_rank = Vec::new();
        let mut rows_components = Vec::new();
        let mut rows_stats = Vec::new();
        for (key, facts) in &report {
            if !facts.exists {
                continue;
            }
            let rank = reputation::rank(&facts.rank_inputs(as_of));
            rows_key.push(key.clone());
            rows_identity.push(facts.identity.as_str().to_string());
            rows_rank.push(f32::from(rank.rank));
            rows_components.push(serde_json::to_value(&rank.components).unwrap_or_default());
            rows_stats.push(facts.stats_json());
        }
        let mut tx = self.pool().begin().await?;
        crate::store::lock_mints(&mut tx).await?;
        sqlx::query(
            "UPDATE mints m SET identity = u.identity, rank = u.rank,
                    rank_components = u.components, stats = u.stats, ranked_at = now(),
                    finding_count = (u.stats->'findings_total')::bigint,
                    review_count = (u.stats->'reviews'->>'count')::bigint
             FROM unnest($1::bytea[], $2::text[], $3::real[], $4::jsonb[], $5::jsonb[])
                  AS u(key, identity, rank, components, stats)
             WHERE m.key = u.key",
        )
        .bind(&rows_key)
        .bind(&rows_identity)
        .bind(&rows_rank)
        .bind(&rows_components)
        .bind(&rows_stats)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows_key.len())
    }

    /// Work that is due with time rather than with new events: gaps whose grace period has
    /// passed (and their mints' ranks), and, when `rerank_all`, every rank (silence decays).
    pub async fn maintain(&mut self, rerank_all: bool) -> Result<AnalyzeOutcome, StoreError> {
        let mut outcome = AnalyzeOutcome::default();
        let levels: Vec<(String, i64)> =
            sqlx::query_as("SELECT identity, count(*) FROM mints GROUP BY identity")
                .fetch_all(self.pool())
                .await?;
        for level in IdentityLevel::ALL {
            let n = levels
                .iter()
                .find(|(l, _)| l == level.as_str())
                .map_or(0, |(_, n)| *n);
            metrics::gauge!("mintwatch_mints", "identity" => level.as_str()).set(n as f64);
        }
        if rerank_all {
            outcome.ranked = self.refresh_all().await?;
            return Ok(outcome);
        }
        let gaps = self.sweep_gaps().await?;
        if !gaps.is_empty() {
            outcome.findings.insert(FindingKind::Gap, gaps.len() as u64);
        }
        self.dirty.extend(gaps);
        outcome.ranked = self.flush_ranks().await?;
        Ok(outcome)
    }

    /// Recomputes every mint's statistics and rank, and sweeps gaps (for `mintwatch analyze`
    /// and for checking that incremental results equal a full recomputation).
    pub async fn refresh_all(&mut self) -> Result<usize, StoreError> {
        self.sweep_gaps().await?;
        let keys: Vec<Vec<u8>> = sqlx::query_scalar("SELECT key FROM mints")
            .fetch_all(self.pool())
            .await?;
        let mints: BTreeSet<MintKey> = keys.iter().filter_map(|k| to_mint(k)).collect();
        let mut done = 0;
        let all: Vec<MintKey> = mints.into_iter().collect();
        for chunk in all.chunks(500) {
            done += self.refresh_mints(&chunk.iter().copied().collect()).await?;
        }
        Ok(done)
    }
}

/// What refresh gathers about one mint.
#[derive(Debug, Clone)]
struct MintFacts {
    exists: bool,
    identity: IdentityLevel,
    last_seen: Option<u64>,
    chain_events: u64,
    chain_linked: u64,
    chain_starts: u64,
    first_4919: Option<i64>,
    last_4919: Option<i64>,
    head: Option<String>,
    median_interval: Option<f64>,
    epoch_closes: u64,
    reviews: u64,
    review_authors: u64,
    rated: u64,
    rated_authors: u64,
    mean_rating: Option<f64>,
    findings: BTreeMap<FindingKind, u64>,
}

impl Default for MintFacts {
    fn default() -> Self {
        Self {
            exists: false,
            identity: IdentityLevel::Unbound,
            last_seen: None,
            chain_events: 0,
            chain_linked: 0,
            chain_starts: 0,
            first_4919: None,
            last_4919: None,
            head: None,
            median_interval: None,
            epoch_closes: 0,
            reviews: 0,
            review_authors: 0,
            rated: 0,
            rated_authors: 0,
            mean_rating: None,
            findings: BTreeMap::new(),
        }
    }
}

impl MintFacts {
    fn finding(&self, kind: FindingKind) -> u64 {
        self.findings.get(&kind).copied().unwrap_or(0)
    }

    fn rank_inputs(&self, as_of: u64) -> RankInputs {
        RankInputs {
            identity: Some(self.identity),
            chain_events: self.chain_events,
            chain_linked: self.chain_linked,
            epoch_closes: self.epoch_closes,
            distinct_reviewers: self.rated_authors,
            mean_rating: self.mean_rating,
            double_spends: self.finding(FindingKind::DoubleSpend),
            forks: self.finding(FindingKind::Fork),
            liability_inversions: self.finding(FindingKind::LiabilityInversion),
            identity_mismatches: self.finding(FindingKind::IdentityMismatch),
            cross_mint_collisions: self.finding(FindingKind::CrossMintCollision),
            balance_mismatches: self.finding(FindingKind::BalanceMismatch),
            gaps: self.finding(FindingKind::Gap),
            last_seen: self.last_seen,
            as_of,
        }
    }

    fn stats_json(&self) -> serde_json::Value {
        let bayesian = self
            .mean_rating
            .map(|m| m * (self.rated as f64 + 1.0).log10());
        json!({
            "chain": {
                "length": self.chain_events,
                "links": self.chain_linked,
                "unlinked_starts": self.chain_starts,
                "head": self.head,
                "first": self.first_4919,
                "last": self.last_4919,
                "median_interval_secs": self.median_interval,
            },
            "epoch_closes": self.epoch_closes,
            "reviews": {
                "count": self.reviews,
                "distinct_authors": self.review_authors,
                "rated": self.rated,
                "mean_rating": self.mean_rating,
                "bayesian": bayesian,
            },
            "findings": FindingKind::ALL.iter()
                .map(|k| (k.as_str().to_string(), json!(self.finding(*k))))
                .collect::<serde_json::Map<_, _>>(),
            "findings_total": self.findings.values().sum::<u64>(),
        })
    }
}
