//! The reads and writes of the analyze stage (PROTOCOL.md §3–§4): the stored facts each check
//! needs, set-based so a batch costs a few statements whatever its size, and the writes of its
//! results (findings resolved, each mint's identity level, rank and statistics). The checks
//! themselves are the indexer's (`mintwatch_indexer::analyze`); nothing here decides a finding.

mod facts;

use std::collections::BTreeSet;
use std::time::Duration;

use futures::TryStreamExt;
use mintwatch_protocol::{Epoch, EventId, FindingKind, MintKey, Point, Unit};
use sqlx::postgres::PgRow;
use sqlx::Row;

use crate::{Store, StoreError};

pub use facts::{MintAnalysis, MintFacts};

/// Two different 4919 events of one mint that name the same previous event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fork {
    /// The mint.
    pub mint: MintKey,
    /// The event both name.
    pub prev: EventId,
    /// The events naming it, by id (two or more).
    pub children: Vec<EventId>,
}

/// MINT and BURN sums of one (mint, unit, epoch), over the mint's stored 4919 events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSums {
    /// The mint.
    pub mint: MintKey,
    /// Unit.
    pub unit: Unit,
    /// Epoch.
    pub epoch: Epoch,
    /// Sum of BURN amounts.
    pub burnt: i128,
    /// Sum of MINT amounts.
    pub minted: i128,
}

/// A stored 1337 beside the MINT and BURN sums of the 4919 events created at or before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochClose {
    /// The 1337.
    pub event_id: EventId,
    /// The mint.
    pub mint: MintKey,
    /// Unit.
    pub unit: Unit,
    /// The closed epoch.
    pub epoch: Epoch,
    /// The 1337's `created_at` (as stored).
    pub created_at: i64,
    /// The balance the mint claims is outstanding.
    pub claimed: i128,
    /// MINT sum up to the 1337.
    pub minted: i128,
    /// BURN sum up to the 1337.
    pub burnt: i128,
}

/// A 4919 whose `e` names an event not stored (as a 4919 of the same mint) after the grace
/// period, with no gap finding yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// The 4919 naming the missing event.
    pub event_id: EventId,
    /// The mint.
    pub mint: MintKey,
    /// The missing event (as named: any 32 bytes).
    pub missing: Vec<u8>,
}

fn to_event_id(bytes: &[u8]) -> Option<EventId> {
    <[u8; 32]>::try_from(bytes).ok().map(EventId)
}

fn to_mint(bytes: &[u8]) -> Option<MintKey> {
    <[u8; 32]>::try_from(bytes)
        .ok()
        .and_then(|b| MintKey::from_x_only_bytes(b).ok())
}

/// A numeric sum read as text. Anything unparsable would be a database bug, and 0 keeps the
/// analysis going while the finding detail shows the figures.
fn parse_i128(s: &str) -> i128 {
    s.split('.')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

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

/// The (mint, unit, epoch) of a row; `None` when a stored value does not parse (skipped).
fn group_of(row: &PgRow) -> Result<Option<(MintKey, Unit, Epoch)>, StoreError> {
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

impl Store {
    /// The rows of `sql` for `groups`, which it reads as `$1` mints, `$2` units and `$3` epochs
    /// (three parallel arrays, for an `unnest`); none, and no statement, when `groups` is empty.
    async fn rows_of_groups(
        &self,
        sql: &str,
        groups: &BTreeSet<(MintKey, Unit, Epoch)>,
    ) -> Result<Vec<PgRow>, StoreError> {
        if groups.is_empty() {
            return Ok(Vec::new());
        }
        let (mints, units, epochs) = group_columns(groups);
        Ok(sqlx::query(sql)
            .bind(&mints)
            .bind(&units)
            .bind(&epochs)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Streams every stored burnt `Y` to `each` (the analyze stage's filter of burnt `Y`s is
    /// loaded this way, without holding them all). Returns how many were streamed; a stored `Y`
    /// that is not a point is skipped.
    pub async fn for_each_burnt_y(&self, mut each: impl FnMut(&Point)) -> Result<u64, StoreError> {
        let mut rows = sqlx::query_scalar::<_, Vec<u8>>("SELECT y FROM burns").fetch(&self.pool);
        let mut n = 0u64;
        while let Some(y) = rows.try_next().await? {
            if let Ok(y) = Point::from_bytes(&y) {
                each(&y);
                n += 1;
            }
        }
        Ok(n)
    }

    /// Every stored BURN of those of `ys` that are burnt more than once (by any mints), as
    /// (`Y`, mint, event), ordered by `Y`, mint and event; one row per entry, so a `Y` twice in
    /// one event appears twice.
    pub async fn repeated_burns(
        &self,
        ys: &[Point],
    ) -> Result<Vec<(Point, MintKey, EventId)>, StoreError> {
        if ys.is_empty() {
            return Ok(Vec::new());
        }
        let ys: Vec<Vec<u8>> = ys.iter().map(|y| y.as_bytes().to_vec()).collect();
        let rows = sqlx::query(
            "SELECT b.y, b.mint, b.event_id
             FROM burns b
             JOIN (SELECT y FROM burns WHERE y = ANY($1) GROUP BY y HAVING count(*) > 1) d
               ON d.y = b.y
             ORDER BY b.y, b.mint, b.event_id",
        )
        .bind(&ys)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let y: Vec<u8> = row.try_get("y")?;
            let mint: Vec<u8> = row.try_get("mint")?;
            let event: Vec<u8> = row.try_get("event_id")?;
            if let (Ok(y), Some(mint), Some(event)) =
                (Point::from_bytes(&y), to_mint(&mint), to_event_id(&event))
            {
                out.push((y, mint, event));
            }
        }
        Ok(out)
    }

    /// The forks among the chains naming any of `prevs`.
    pub async fn forks(&self, prevs: &BTreeSet<EventId>) -> Result<Vec<Fork>, StoreError> {
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
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for row in rows {
            let mint: Vec<u8> = row.try_get("mint")?;
            let prev: Vec<u8> = row.try_get("prev")?;
            let events: Vec<Vec<u8>> = row.try_get("events")?;
            let (Some(mint), Some(prev)) = (to_mint(&mint), to_event_id(&prev)) else {
                continue;
            };
            out.push(Fork {
                mint,
                prev,
                children: events.iter().filter_map(|e| to_event_id(e)).collect(),
            });
        }
        Ok(out)
    }

    /// The mint's 4919 events with entries in (unit, epoch), by id, optionally only those
    /// created at or before `until`.
    pub async fn group_events(
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
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().filter_map(|e| to_event_id(e)).collect())
    }

    /// Resolves the unresolved findings of `kind` named by (mint, finding key). Returns how
    /// many were resolved.
    pub async fn resolve_findings(
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
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// The MINT and BURN sums of the stored ones among `groups`.
    pub async fn group_sums(
        &self,
        groups: &BTreeSet<(MintKey, Unit, Epoch)>,
    ) -> Result<Vec<GroupSums>, StoreError> {
        let rows = self
            .rows_of_groups(
                "SELECT s.mint, s.unit, s.epoch,
                        s.burn_amount::text AS burned, s.mint_amount::text AS minted
                 FROM mint_stats s
                 JOIN unnest($1::bytea[], $2::text[], $3::bigint[]) AS u(mint, unit, epoch)
                   ON s.mint = u.mint AND s.unit = u.unit AND s.epoch = u.epoch",
                groups,
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let Some((mint, unit, epoch)) = group_of(&row)? else {
                continue;
            };
            out.push(GroupSums {
                mint,
                unit,
                epoch,
                burnt: parse_i128(&row.try_get::<String, _>("burned")?),
                minted: parse_i128(&row.try_get::<String, _>("minted")?),
            });
        }
        Ok(out)
    }

    /// Every stored 1337 of `groups`, with the sums it is checked against.
    pub async fn epoch_closes(
        &self,
        groups: &BTreeSet<(MintKey, Unit, Epoch)>,
    ) -> Result<Vec<EpochClose>, StoreError> {
        let rows = self
            .rows_of_groups(
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
                groups,
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let Some((mint, unit, epoch)) = group_of(&row)? else {
                continue;
            };
            let id: Vec<u8> = row.try_get("event_id")?;
            let Some(event_id) = to_event_id(&id) else {
                continue;
            };
            out.push(EpochClose {
                event_id,
                mint,
                unit,
                epoch,
                created_at: row.try_get("created_at")?,
                claimed: parse_i128(&row.try_get::<String, _>("claimed")?),
                minted: parse_i128(&row.try_get::<String, _>("minted")?),
                burnt: parse_i128(&row.try_get::<String, _>("burnt")?),
            });
        }
        Ok(out)
    }

    /// Resolves the gap findings whose missing event has arrived. Returns the mints of the
    /// resolved findings, one per finding.
    pub async fn resolve_filled_gaps(&self) -> Result<Vec<MintKey>, StoreError> {
        let mints: Vec<Vec<u8>> = sqlx::query_scalar(
            "UPDATE findings f SET resolved = true, updated_at = now()
             FROM chain_links c
             JOIN events p ON p.id = c.prev AND p.pubkey = c.mint AND p.kind = 4919
             WHERE f.kind = 'gap' AND NOT f.resolved AND c.event_id = f.event_ids[1]
             RETURNING f.mint",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(mints.iter().filter_map(|m| to_mint(m)).collect())
    }

    /// The gaps past `grace` (since the naming event arrived) that have no finding yet.
    pub async fn unrecorded_gaps(&self, grace: Duration) -> Result<Vec<Gap>, StoreError> {
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
        .bind(grace.as_secs_f64())
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let id: Vec<u8> = row.try_get("event_id")?;
            let mint: Vec<u8> = row.try_get("mint")?;
            let missing: Vec<u8> = row.try_get("prev")?;
            if let (Some(event_id), Some(mint)) = (to_event_id(&id), to_mint(&mint)) {
                out.push(Gap {
                    event_id,
                    mint,
                    missing,
                });
            }
        }
        Ok(out)
    }

    /// How many mints the directory holds per identity level (as stored).
    pub async fn mints_by_identity(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT identity, count(*) FROM mints GROUP BY identity")
                .fetch_all(&self.pool)
                .await?,
        )
    }
}
