//! Reads for the analyze stage, the API and the tests.

use std::sync::Arc;

use mintwatch_protocol::{EventId, IdentityLevel, MintKey, Point};
use sqlx::Row;

use super::records::{
    self, AnnouncementRecord, BurnRecord, ChainLink, FinEpochRecord, MintRecord, MintStat,
    RelayCounter, ReviewRecord,
};
use super::{Store, StoreError};
use crate::pipeline::Cursor;

/// Column tuples of the wider reads.
type FinEpochRow = (Vec<u8>, i64, String, i64, String, Option<Vec<u8>>);
type AnnouncementRow = (
    Vec<u8>,
    i64,
    Option<Vec<u8>>,
    Vec<String>,
    Vec<i32>,
    Option<String>,
    Option<String>,
);
type ReviewRow = (
    Vec<u8>,
    Vec<u8>,
    String,
    Option<Vec<u8>>,
    Option<f64>,
    String,
    i64,
);

fn opt_event_id(v: Option<Vec<u8>>, field: &'static str) -> Result<Option<EventId>, StoreError> {
    v.map(|b| records::event_id(&b, field)).transpose()
}

fn opt_mint_key(v: Option<Vec<u8>>, field: &'static str) -> Result<Option<MintKey>, StoreError> {
    v.map(|b| records::mint_key(&b, field)).transpose()
}

fn opt_unsigned(v: Option<i64>, field: &'static str) -> Result<Option<u64>, StoreError> {
    v.map(|n| records::unsigned(n, field)).transpose()
}

fn big(s: &str, field: &'static str) -> Result<u128, StoreError> {
    s.parse().map_err(|e| StoreError::corrupt(field, e))
}

impl Store {
    /// Where the crawl of (`relay`, `filter`) stands, if it ever committed a cursor.
    pub async fn cursor(&self, relay: &str, filter: &str) -> Result<Option<Cursor>, StoreError> {
        let row: Option<(Option<i64>, bool, Option<i64>)> = sqlx::query_as(
            "SELECT backfill_until, backfill_done, newest_seen FROM relay_cursors
             WHERE relay = $1 AND filter = $2",
        )
        .bind(relay)
        .bind(filter)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(until, done, newest)| {
            Ok(Cursor {
                relay: Arc::from(relay),
                filter: filter.to_owned(),
                backfill_until: opt_unsigned(until, "relay_cursors.backfill_until")?,
                backfill_done: done,
                newest_seen: opt_unsigned(newest, "relay_cursors.newest_seen")?,
            })
        })
        .transpose()
    }

    /// Every stored cursor (the crawl resumes from these).
    pub async fn all_cursors(&self) -> Result<Vec<Cursor>, StoreError> {
        type Row = (String, String, Option<i64>, bool, Option<i64>);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT relay, filter, backfill_until, backfill_done, newest_seen FROM relay_cursors
             ORDER BY relay, filter",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(relay, filter, until, done, newest)| {
                Ok(Cursor {
                    relay: Arc::from(relay.as_str()),
                    filter,
                    backfill_until: opt_unsigned(until, "relay_cursors.backfill_until")?,
                    backfill_done: done,
                    newest_seen: opt_unsigned(newest, "relay_cursors.newest_seen")?,
                })
            })
            .collect()
    }

    /// Every mint key in the directory (kind 1337 is crawled from these).
    pub async fn mint_keys(&self) -> Result<Vec<MintKey>, StoreError> {
        let rows: Vec<Vec<u8>> = sqlx::query_scalar("SELECT key FROM mints ORDER BY key")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|k| records::mint_key(k, "mints.key"))
            .collect()
    }

    /// The refusal counters of `relay`, sorted by reason then kind.
    pub async fn relay_counters(&self, relay: &str) -> Result<Vec<RelayCounter>, StoreError> {
        let rows: Vec<(String, i32, i64)> = sqlx::query_as(
            "SELECT reason, kind, count FROM relay_counters WHERE relay = $1
             ORDER BY reason, kind",
        )
        .bind(relay)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(reason, kind, count)| {
                Ok(RelayCounter {
                    reason,
                    kind: if kind < 0 {
                        None
                    } else {
                        Some(
                            u16::try_from(kind)
                                .map_err(|e| StoreError::corrupt("relay_counters.kind", e))?,
                        )
                    },
                    count: records::unsigned(count, "relay_counters.count")?,
                })
            })
            .collect()
    }

    /// Every stored BURN of any of `ys`, by any mint, ordered by Y, mint, event and position.
    pub async fn burns_by_y(&self, ys: &[Point]) -> Result<Vec<BurnRecord>, StoreError> {
        if ys.is_empty() {
            return Ok(vec![]);
        }
        let ys: Vec<Vec<u8>> = ys.iter().map(|y| y.as_bytes().to_vec()).collect();
        let rows = sqlx::query(
            "SELECT y, mint, event_id, pos, amount, unit, epoch FROM burns
             WHERE y = ANY($1) ORDER BY y, mint, event_id, pos",
        )
        .bind(ys)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(BurnRecord {
                    y: records::point(&r.try_get::<Vec<u8>, _>(0)?, "burns.y")?,
                    mint: records::mint_key(&r.try_get::<Vec<u8>, _>(1)?, "burns.mint")?,
                    event_id: records::event_id(&r.try_get::<Vec<u8>, _>(2)?, "burns.event_id")?,
                    pos: u32::try_from(r.try_get::<i32, _>(3)?)
                        .map_err(|e| StoreError::corrupt("burns.pos", e))?,
                    amount: records::amount(r.try_get(4)?, "burns.amount")?,
                    unit: records::unit(r.try_get(5)?, "burns.unit")?,
                    epoch: records::epoch(r.try_get(6)?, "burns.epoch")?,
                })
            })
            .collect()
    }

    /// A mint's totals per (unit, epoch), sorted by unit then epoch.
    pub async fn mint_stats(&self, mint: &MintKey) -> Result<Vec<MintStat>, StoreError> {
        let rows: Vec<(String, i64, i64, String, i64, String)> = sqlx::query_as(
            "SELECT unit, epoch, burn_count, burn_amount::text, mint_count, mint_amount::text
             FROM mint_stats WHERE mint = $1 ORDER BY unit, epoch",
        )
        .bind(mint.as_bytes().to_vec())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(unit, epoch, bc, ba, mc, ma)| {
                Ok(MintStat {
                    unit: records::unit(&unit, "mint_stats.unit")?,
                    epoch: records::epoch(epoch, "mint_stats.epoch")?,
                    burn_count: records::unsigned(bc, "mint_stats.burn_count")?,
                    burn_amount: big(&ba, "mint_stats.burn_amount")?,
                    mint_count: records::unsigned(mc, "mint_stats.mint_count")?,
                    mint_amount: big(&ma, "mint_stats.mint_amount")?,
                })
            })
            .collect()
    }

    /// A mint's 4919 events in chain order (created_at, then id).
    pub async fn chain_links(&self, mint: &MintKey) -> Result<Vec<ChainLink>, StoreError> {
        let rows: Vec<(Vec<u8>, i64, Option<Vec<u8>>)> = sqlx::query_as(
            "SELECT event_id, created_at, prev FROM chain_links WHERE mint = $1
             ORDER BY created_at, event_id",
        )
        .bind(mint.as_bytes().to_vec())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, created, prev)| {
                Ok(ChainLink {
                    event_id: records::event_id(&id, "chain_links.event_id")?,
                    created_at: records::unsigned(created, "chain_links.created_at")?,
                    prev: opt_event_id(prev, "chain_links.prev")?,
                })
            })
            .collect()
    }

    /// A mint's 1337 events, by unit, epoch and time.
    pub async fn fin_epochs(&self, mint: &MintKey) -> Result<Vec<FinEpochRecord>, StoreError> {
        let rows: Vec<FinEpochRow> = sqlx::query_as(
            "SELECT event_id, created_at, unit, epoch, outstanding_balance::text, prev
             FROM fin_epochs WHERE mint = $1 ORDER BY unit, epoch, created_at, event_id",
        )
        .bind(mint.as_bytes().to_vec())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, created, unit, epoch, balance, prev)| {
                Ok(FinEpochRecord {
                    event_id: records::event_id(&id, "fin_epochs.event_id")?,
                    created_at: records::unsigned(created, "fin_epochs.created_at")?,
                    unit: records::unit(&unit, "fin_epochs.unit")?,
                    epoch: records::epoch(epoch, "fin_epochs.epoch")?,
                    outstanding_balance: balance
                        .parse()
                        .map_err(|e| StoreError::corrupt("fin_epochs.outstanding_balance", e))?,
                    prev: opt_event_id(prev, "fin_epochs.prev")?,
                })
            })
            .collect()
    }

    /// The live 38172 of (`author`, `d`).
    pub async fn announcement(
        &self,
        author: &[u8; 32],
        d: &str,
    ) -> Result<Option<AnnouncementRecord>, StoreError> {
        let row: Option<AnnouncementRow> = sqlx::query_as(
            "SELECT event_id, created_at, mint, urls, nuts, network, name FROM announcements
                 WHERE author = $1 AND d = $2",
        )
        .bind(author.to_vec())
        .bind(d)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(id, created, mint, urls, nuts, network, name)| {
            Ok(AnnouncementRecord {
                event_id: records::event_id(&id, "announcements.event_id")?,
                created_at: records::unsigned(created, "announcements.created_at")?,
                mint: opt_mint_key(mint, "announcements.mint")?,
                urls,
                nuts: records::nuts(nuts, "announcements.nuts")?,
                network,
                name,
            })
        })
        .transpose()
    }

    /// The live reviews (deletions applied, newest per author and target) whose target names
    /// `mint`, sorted by author.
    pub async fn live_reviews_of(&self, mint: &MintKey) -> Result<Vec<ReviewRecord>, StoreError> {
        self.live_reviews_where("target_mint = $1", mint.as_bytes().to_vec())
            .await
    }

    /// The live reviews written by `author`, sorted by target.
    pub async fn live_reviews_by(
        &self,
        author: &[u8; 32],
    ) -> Result<Vec<ReviewRecord>, StoreError> {
        self.live_reviews_where("author = $1", author.to_vec())
            .await
    }

    async fn live_reviews_where(
        &self,
        condition: &'static str,
        value: Vec<u8>,
    ) -> Result<Vec<ReviewRecord>, StoreError> {
        let sql = format!(
            "SELECT event_id, author, target, target_mint, rating, text, created_at
             FROM live_reviews WHERE {condition} ORDER BY author, target"
        );
        let rows: Vec<ReviewRow> = sqlx::query_as(&sql)
            .bind(value)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|(id, author, target, mint, rating, text, created)| {
                Ok(ReviewRecord {
                    event_id: records::event_id(&id, "reviews.event_id")?,
                    author: author
                        .as_slice()
                        .try_into()
                        .map_err(|_| StoreError::corrupt("reviews.author", "not 32 bytes"))?,
                    target,
                    target_mint: opt_mint_key(mint, "reviews.target_mint")?,
                    rating,
                    text,
                    created_at: records::unsigned(created, "reviews.created_at")?,
                })
            })
            .collect()
    }

    /// A mint's directory row.
    pub async fn mint(&self, key: &MintKey) -> Result<Option<MintRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT identity, urls, name, description, units, nuts, network, first_seen,
                    last_seen, rank, rank_components, event_count, burn_count, mint_count,
                    last_active
             FROM mints WHERE key = $1",
        )
        .bind(key.as_bytes().to_vec())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let identity: String = r.try_get(0)?;
            Ok(MintRecord {
                key: *key,
                identity: identity
                    .parse::<IdentityLevel>()
                    .map_err(|e| StoreError::corrupt("mints.identity", e))?,
                urls: r.try_get(1)?,
                name: r.try_get(2)?,
                description: r.try_get(3)?,
                units: r.try_get(4)?,
                nuts: records::nuts(r.try_get(5)?, "mints.nuts")?,
                network: r.try_get(6)?,
                first_seen: records::unsigned(r.try_get(7)?, "mints.first_seen")?,
                last_seen: records::unsigned(r.try_get(8)?, "mints.last_seen")?,
                rank: r.try_get(9)?,
                rank_components: r.try_get(10)?,
                event_count: records::unsigned(r.try_get(11)?, "mints.event_count")?,
                burn_count: records::unsigned(r.try_get(12)?, "mints.burn_count")?,
                mint_count: records::unsigned(r.try_get(13)?, "mints.mint_count")?,
                last_active: opt_unsigned(r.try_get(14)?, "mints.last_active")?,
            })
        })
        .transpose()
    }

    /// The relays an event was seen on, sorted: its first relay (`events`) and the others
    /// (`event_relays`).
    pub async fn event_relays(&self, id: &EventId) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT relay FROM event_relays WHERE event_id = $1
             UNION SELECT first_relay FROM events WHERE id = $1
             ORDER BY 1",
        )
        .bind(id.0.to_vec())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(r,)| r).collect())
    }

    /// An event's JSON, verbatim as first received.
    pub async fn event_json(&self, id: &EventId) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT json FROM events WHERE id = $1")
            .bind(id.0.to_vec())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(j,)| j))
    }
}
