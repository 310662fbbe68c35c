//! Point reads: what the crawl resumes from, which mints exist, an event's JSON, which
//! migrations are applied.

use std::sync::Arc;

use mintwatch_protocol::{EventId, MintKey};

use crate::batch::Cursor;
use crate::records;
use crate::{Store, StoreError};

fn opt_unsigned(v: Option<i64>, field: &'static str) -> Result<Option<u64>, StoreError> {
    v.map(|n| records::unsigned(n, field)).transpose()
}

impl Store {
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

    /// An event's JSON, verbatim as first received.
    pub async fn event_json(&self, id: &EventId) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT json FROM events WHERE id = $1")
            .bind(id.0.to_vec())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(j,)| j))
    }

    /// Whether `key` is in the directory.
    pub async fn mint_exists(&self, key: &MintKey) -> Result<bool, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM mints WHERE key = $1)")
                .bind(key.as_bytes().to_vec())
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// The versions of the migrations applied successfully (readiness compares them with
    /// [`MIGRATOR`](crate::MIGRATOR)).
    pub async fn applied_migrations(&self) -> Result<Vec<i64>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Unresolved findings per kind name (kinds without any are absent).
    pub async fn open_finding_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT kind, count(*) FROM findings WHERE NOT resolved GROUP BY kind")
                .fetch_all(&self.pool)
                .await?,
        )
    }
}
