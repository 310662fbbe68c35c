//! What the analyze stage gathers about a mint to rank it, and the write of its results.

use std::collections::{BTreeMap, BTreeSet};

use mintwatch_protocol::{FindingKind, MintKey};
use sqlx::postgres::PgRow;
use sqlx::Row;

use super::to_mint;
use crate::stats::MintStats;
use crate::{Store, StoreError};

/// The stored facts about one mint that its identity level, statistics and rank follow from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MintFacts {
    /// Whether the mint's live 11467 names its signer (`None`: no 11467 with a key).
    pub info_match: Option<bool>,
    /// Whether a live 38172 naming the mint is signed by the mint key.
    pub self_announced: bool,
    /// Whether a live 38172 naming the mint is signed by another key.
    pub operator_announced: bool,
    /// `created_at` of the mint's last own event, else of the last event about it.
    pub last_seen: Option<u64>,
    /// 4919 events.
    pub chain_events: u64,
    /// 4919 events whose `e` names a stored 4919 of the mint.
    pub chain_linked: u64,
    /// 4919 events without `e`.
    pub chain_starts: u64,
    /// `created_at` of the first 4919.
    pub first_4919: Option<i64>,
    /// `created_at` of the last 4919.
    pub last_4919: Option<i64>,
    /// The newest 4919 (id, hex).
    pub head: Option<String>,
    /// Median seconds between consecutive 4919 events.
    pub median_interval: Option<f64>,
    /// 1337 events.
    pub epoch_closes: u64,
    /// Live reviews.
    pub reviews: u64,
    /// Distinct authors of live reviews.
    pub review_authors: u64,
    /// Live reviews with a rating.
    pub rated: u64,
    /// Distinct authors of rated live reviews.
    pub rated_authors: u64,
    /// Mean rating of the rated live reviews.
    pub mean_rating: Option<f64>,
    /// Unresolved findings by kind.
    pub findings: BTreeMap<FindingKind, u64>,
}

/// The analyze stage's result for one mint, as [`Store::write_mint_analyses`] stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct MintAnalysis {
    /// The mint.
    pub key: MintKey,
    /// Identity level name (`self-signed`, `operator`, `mismatch`, `unbound`).
    pub identity: String,
    /// Rank 0..=100.
    pub rank: f32,
    /// The rank's components.
    pub components: serde_json::Value,
    /// Statistics (`mints.stats`).
    pub stats: MintStats,
}

/// The facts of the row's `mint`, if it is in the directory (the other facts are gathered only
/// of mints in it).
fn facts_of<'a>(
    report: &'a mut BTreeMap<MintKey, MintFacts>,
    row: &PgRow,
) -> Result<Option<&'a mut MintFacts>, StoreError> {
    let key: Vec<u8> = row.try_get("mint")?;
    Ok(to_mint(&key).and_then(|k| report.get_mut(&k)))
}

fn counted(v: i64) -> u64 {
    v.max(0) as u64
}

impl Store {
    /// The facts of those of `mints` that are in the directory (mints not in it are left out),
    /// in a few set-based statements.
    pub async fn mint_facts(
        &self,
        mints: &BTreeSet<MintKey>,
    ) -> Result<BTreeMap<MintKey, MintFacts>, StoreError> {
        let mut report: BTreeMap<MintKey, MintFacts> = BTreeMap::new();
        if mints.is_empty() {
            return Ok(report);
        }
        let keys: Vec<Vec<u8>> = mints.iter().map(|m| m.as_bytes().to_vec()).collect();
        let pool = &self.pool;

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
        .fetch_all(pool)
        .await?
        {
            let Some(key) = to_mint(&row.try_get::<Vec<u8>, _>("key")?) else {
                continue;
            };
            report.insert(
                key,
                MintFacts {
                    info_match: row.try_get("info_match")?,
                    self_announced: row.try_get("self_announced")?,
                    operator_announced: row.try_get("operator_announced")?,
                    last_seen: row
                        .try_get::<i64, _>("last_seen")
                        .ok()
                        .map(|t| t.max(0) as u64),
                    ..MintFacts::default()
                },
            );
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
        .fetch_all(pool)
        .await?
        {
            let Some(facts) = facts_of(&mut report, &row)? else {
                continue;
            };
            facts.chain_events = counted(row.try_get("events")?);
            facts.chain_linked = counted(row.try_get("linked")?);
            facts.chain_starts = counted(row.try_get("starts")?);
            facts.first_4919 = row.try_get::<i64, _>("first").ok();
            facts.last_4919 = row.try_get::<i64, _>("last").ok();
            facts.head = row.try_get::<Vec<u8>, _>("head").ok().map(hex::encode);
        }

        for row in sqlx::query(
            "SELECT mint, percentile_cont(0.5) WITHIN GROUP (ORDER BY d) AS median
             FROM (SELECT mint, created_at - lag(created_at) OVER (PARTITION BY mint
                                                                   ORDER BY created_at) AS d
                   FROM chain_links WHERE mint = ANY($1)) s
             WHERE d IS NOT NULL GROUP BY mint",
        )
        .bind(&keys)
        .fetch_all(pool)
        .await?
        {
            let Some(facts) = facts_of(&mut report, &row)? else {
                continue;
            };
            facts.median_interval = row.try_get("median")?;
        }

        for row in sqlx::query(
            "SELECT mint, count(*) AS closes FROM fin_epochs WHERE mint = ANY($1) GROUP BY mint",
        )
        .bind(&keys)
        .fetch_all(pool)
        .await?
        {
            let Some(facts) = facts_of(&mut report, &row)? else {
                continue;
            };
            facts.epoch_closes = counted(row.try_get("closes")?);
        }

        for row in sqlx::query(
            "SELECT target_mint AS mint, count(*) AS reviews, count(DISTINCT author) AS authors,
                    count(rating) AS rated, count(DISTINCT author) FILTER (WHERE rating IS NOT NULL)
                        AS rated_authors,
                    avg(rating) AS mean
             FROM live_reviews WHERE target_mint = ANY($1) GROUP BY target_mint",
        )
        .bind(&keys)
        .fetch_all(pool)
        .await?
        {
            let Some(facts) = facts_of(&mut report, &row)? else {
                continue;
            };
            facts.reviews = counted(row.try_get("reviews")?);
            facts.review_authors = counted(row.try_get("authors")?);
            facts.rated = counted(row.try_get("rated")?);
            facts.rated_authors = counted(row.try_get("rated_authors")?);
            facts.mean_rating = row.try_get("mean")?;
        }

        for row in sqlx::query(
            "SELECT mint, kind, count(*) AS n FROM findings
             WHERE mint = ANY($1) AND NOT resolved GROUP BY mint, kind",
        )
        .bind(&keys)
        .fetch_all(pool)
        .await?
        {
            let kind: String = row.try_get("kind")?;
            let n = counted(row.try_get("n")?);
            let Some(facts) = facts_of(&mut report, &row)? else {
                continue;
            };
            if let Ok(kind) = kind.parse::<FindingKind>() {
                facts.findings.insert(kind, n);
            }
        }
        Ok(report)
    }

    /// Stores each mint's identity level, rank, rank components and statistics (and the
    /// directory's finding and review counters, taken from the statistics), in one statement
    /// under the lock every writer of `mints` takes.
    pub async fn write_mint_analyses(&self, rows: &[MintAnalysis]) -> Result<(), StoreError> {
        let mut keys = Vec::with_capacity(rows.len());
        let mut identities = Vec::with_capacity(rows.len());
        let mut ranks = Vec::with_capacity(rows.len());
        let mut components = Vec::with_capacity(rows.len());
        let mut stats = Vec::with_capacity(rows.len());
        for r in rows {
            keys.push(r.key.as_bytes().to_vec());
            identities.push(r.identity.as_str());
            ranks.push(r.rank);
            components.push(r.components.clone());
            stats.push(serde_json::to_value(&r.stats).unwrap_or_default());
        }
        let mut tx = self.pool.begin().await?;
        crate::lock_mints(&mut tx).await?;
        sqlx::query(
            "UPDATE mints m SET identity = u.identity, rank = u.rank,
                    rank_components = u.components, stats = u.stats, ranked_at = now(),
                    finding_count = (u.stats->'findings_total')::bigint,
                    review_count = (u.stats->'reviews'->>'count')::bigint
             FROM unnest($1::bytea[], $2::text[], $3::real[], $4::jsonb[], $5::jsonb[])
                  AS u(key, identity, rank, components, stats)
             WHERE m.key = u.key",
        )
        .bind(&keys)
        .bind(&identities)
        .bind(&ranks)
        .bind(&components)
        .bind(&stats)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
