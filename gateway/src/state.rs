//! The gateway's own state (a SQLite file): the outbox of signed events, how far each relay
//! acknowledged it, and what of the mint's database is already in it.
//!
//! Exactly once rests here: an event is signed and stored in one transaction with the keys of
//! the entries it carries (`published`, unique), the feed watermarks it moves and the chain
//! heads, before any relay sees it; relays are sent what the outbox holds, unchanged, so a
//! restart re-sends the same ids and never builds a second event for the same entries.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use crate::error::Error;
use crate::mintdb::Feed;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    entries INTEGER NOT NULL,
    -- unix time of the oldest entry it carries (lag), NULL for events without entries
    oldest INTEGER,
    json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS published (
    key BLOB PRIMARY KEY,
    feed INTEGER NOT NULL,
    pos INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS published_feed_pos ON published (feed, pos);
CREATE TABLE IF NOT EXISTS keysets (
    id TEXT PRIMARY KEY,
    unit TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    closed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS totals (
    unit TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    minted INTEGER NOT NULL,
    burnt INTEGER NOT NULL,
    PRIMARY KEY (unit, epoch)
);
CREATE TABLE IF NOT EXISTS relay_cursor (relay TEXT PRIMARY KEY, seq INTEGER NOT NULL);
";

/// The gateway's state database.
#[derive(Clone)]
pub struct State {
    pool: SqlitePool,
}

/// A signed event ready for the outbox.
#[derive(Debug, Clone)]
pub struct OutEvent {
    /// Event id (hex).
    pub id: String,
    /// Kind.
    pub kind: u16,
    /// `created_at`.
    pub created_at: i64,
    /// Entries it carries (0 for 11467, 38172, 1337).
    pub entries: usize,
    /// Unix time of its oldest entry.
    pub oldest: Option<i64>,
    /// The signed event as JSON, sent unchanged.
    pub json: String,
}

/// What one stored event changes besides the outbox.
#[derive(Debug, Default)]
pub struct Changes {
    /// Keys of the entries it carries: `(feed, key, pos)`.
    pub published: Vec<(Feed, Vec<u8>, i64)>,
    /// Meta values to set.
    pub meta: Vec<(String, String)>,
    /// `(unit, epoch, minted, burnt)` to add to the totals.
    pub totals: Vec<(String, u64, u64, u64)>,
    /// Keysets whose epoch this event closes.
    pub closed: Vec<String>,
    /// `(feed, floor)`: the keys of `feed` published below `floor` are forgotten, since no read
    /// goes below it again (the feed's read floor after this event); the table of published keys
    /// then holds the re-read window only, not the mint's whole history.
    pub forget_below: Vec<(Feed, i64)>,
}

/// One event of the outbox as a relay task sends it.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Outbox sequence number.
    pub seq: i64,
    /// Event id (hex).
    pub id: String,
    /// Kind.
    pub kind: u16,
    /// Entries it carries.
    pub entries: i64,
    /// The signed event as JSON.
    pub json: String,
}

/// A keyset as the state knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownKeyset {
    /// Keyset id.
    pub id: String,
    /// Unit.
    pub unit: String,
    /// Epoch: its index among the mint's keysets of its unit.
    pub epoch: u64,
    /// Whether its 1337 is stored.
    pub closed: bool,
}

fn feed_code(feed: Feed) -> i64 {
    match feed {
        Feed::Burns => 0,
        Feed::Mints => 1,
    }
}

fn state_err(e: sqlx::Error) -> Error {
    Error::State(e)
}

impl State {
    /// Opens (creating if needed) the state file.
    pub async fn open(path: &Path) -> Result<Self, Error> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(state_err)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a stored event survives a power cut, not only a kill.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(state_err)?;
        sqlx::raw_sql(SCHEMA)
            .execute(&pool)
            .await
            .map_err(state_err)?;
        Ok(State { pool })
    }

    /// Binds the state to `mint_key` (x-only hex) on first use; refuses a state of another mint.
    pub async fn bind_mint(&self, mint_key: &str) -> Result<(), Error> {
        match self.meta("mint_key").await? {
            Some(k) if k == mint_key => Ok(()),
            Some(k) => Err(Error::StateContent(format!(
                "it belongs to mint {k}, not {mint_key}; give another --state"
            ))),
            None => self.set_meta("mint_key", mint_key).await,
        }
    }

    /// A meta value.
    pub async fn meta(&self, key: &str) -> Result<Option<String>, Error> {
        sqlx::query_scalar("SELECT value FROM meta WHERE key = ?1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(state_err)
    }

    /// Sets a meta value.
    pub async fn set_meta(&self, key: &str, value: &str) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await
        .map_err(state_err)?;
        Ok(())
    }

    /// Every meta value.
    pub async fn all_meta(&self) -> Result<HashMap<String, String>, Error> {
        let rows = sqlx::query("SELECT key, value FROM meta")
            .fetch_all(&self.pool)
            .await
            .map_err(state_err)?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(state_err)
    }

    /// Keysets known, with their epochs.
    pub async fn keysets(&self) -> Result<Vec<KnownKeyset>, Error> {
        let rows = sqlx::query("SELECT id, unit, epoch, closed FROM keysets ORDER BY unit, epoch")
            .fetch_all(&self.pool)
            .await
            .map_err(state_err)?;
        rows.iter()
            .map(|r| {
                Ok(KnownKeyset {
                    id: r.try_get(0)?,
                    unit: r.try_get(1)?,
                    epoch: u64::try_from(r.try_get::<i64, _>(2)?).unwrap_or(0),
                    closed: r.try_get::<i64, _>(3)? != 0,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(state_err)
    }

    /// Records newly seen keysets with their epochs.
    pub async fn add_keysets(&self, keysets: &[KnownKeyset]) -> Result<(), Error> {
        let mut tx = self.pool.begin().await.map_err(state_err)?;
        for k in keysets {
            sqlx::query("INSERT INTO keysets (id, unit, epoch, closed) VALUES (?1, ?2, ?3, 0)")
                .bind(&k.id)
                .bind(&k.unit)
                .bind(i64::try_from(k.epoch).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await
                .map_err(state_err)?;
        }
        tx.commit().await.map_err(state_err)
    }

    /// Totals of published amounts: `(unit, epoch) -> (minted, burnt)`.
    pub async fn totals(&self) -> Result<HashMap<(String, u64), (u64, u64)>, Error> {
        let rows = sqlx::query("SELECT unit, epoch, minted, burnt FROM totals")
            .fetch_all(&self.pool)
            .await
            .map_err(state_err)?;
        rows.iter()
            .map(|r| {
                let n = |i: usize| -> Result<u64, sqlx::Error> {
                    Ok(u64::try_from(r.try_get::<i64, _>(i)?).unwrap_or(0))
                };
                Ok(((r.try_get(0)?, n(1)?), (n(2)?, n(3)?)))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(state_err)
    }

    /// Keys of `feed` published at positions `>= from`, with their positions.
    pub async fn published_since(
        &self,
        feed: Feed,
        from: i64,
    ) -> Result<Vec<(Vec<u8>, i64)>, Error> {
        let rows = sqlx::query("SELECT key, pos FROM published WHERE feed = ?1 AND pos >= ?2")
            .bind(feed_code(feed))
            .bind(from)
            .fetch_all(&self.pool)
            .await
            .map_err(state_err)?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(state_err)
    }

    /// The last outbox sequence number, 0 when the outbox is empty.
    pub async fn last_seq(&self) -> Result<i64, Error> {
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM outbox")
            .fetch_one(&self.pool)
            .await
            .map_err(state_err)
    }

    /// Entries published so far (in the outbox's events).
    pub async fn published_count(&self) -> Result<i64, Error> {
        sqlx::query_scalar("SELECT CAST(COALESCE(SUM(entries), 0) AS INTEGER) FROM outbox")
            .fetch_one(&self.pool)
            .await
            .map_err(state_err)
    }

    /// Stores one signed event with everything it changes, in one transaction. A key already
    /// published inside the re-read window fails the whole transaction: an entry is never
    /// stored twice (below the window no row is read again).
    pub async fn store(&self, event: &OutEvent, changes: &Changes) -> Result<i64, Error> {
        let mut tx = self.pool.begin().await.map_err(state_err)?;
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO outbox (id, kind, created_at, entries, oldest, json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING seq",
        )
        .bind(&event.id)
        .bind(i64::from(event.kind))
        .bind(event.created_at)
        .bind(i64::try_from(event.entries).unwrap_or(i64::MAX))
        .bind(event.oldest)
        .bind(&event.json)
        .fetch_one(&mut *tx)
        .await
        .map_err(state_err)?;
        // 300 rows of 3 parameters per statement: well under SQLite's parameter limit.
        for chunk in changes.published.chunks(300) {
            let mut sql = String::from("INSERT INTO published (key, feed, pos) VALUES ");
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str("(?,?,?)");
            }
            let mut q = sqlx::query(&sql);
            for (feed, key, pos) in chunk {
                q = q.bind(key.as_slice()).bind(feed_code(*feed)).bind(*pos);
            }
            q.execute(&mut *tx).await.map_err(state_err)?;
        }
        for (feed, floor) in &changes.forget_below {
            sqlx::query("DELETE FROM published WHERE feed = ?1 AND pos < ?2")
                .bind(feed_code(*feed))
                .bind(*floor)
                .execute(&mut *tx)
                .await
                .map_err(state_err)?;
        }
        for (key, value) in &changes.meta {
            sqlx::query(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await
            .map_err(state_err)?;
        }
        for (unit, epoch, minted, burnt) in &changes.totals {
            sqlx::query(
                "INSERT INTO totals (unit, epoch, minted, burnt) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (unit, epoch) DO UPDATE
                 SET minted = minted + excluded.minted, burnt = burnt + excluded.burnt",
            )
            .bind(unit)
            .bind(i64::try_from(*epoch).unwrap_or(i64::MAX))
            .bind(i64::try_from(*minted).unwrap_or(i64::MAX))
            .bind(i64::try_from(*burnt).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await
            .map_err(state_err)?;
        }
        for id in &changes.closed {
            sqlx::query("UPDATE keysets SET closed = 1 WHERE id = ?1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(state_err)?;
        }
        tx.commit().await.map_err(state_err)?;
        Ok(seq)
    }

    /// The first outbox event after `seq`.
    pub async fn next_after(&self, seq: i64) -> Result<Option<Stored>, Error> {
        let row = sqlx::query(
            "SELECT seq, id, kind, entries, json FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT 1",
        )
        .bind(seq)
        .fetch_optional(&self.pool)
        .await
        .map_err(state_err)?;
        row.map(|r| {
            Ok(Stored {
                seq: r.try_get(0)?,
                id: r.try_get(1)?,
                kind: u16::try_from(r.try_get::<i64, _>(2)?).unwrap_or(0),
                entries: r.try_get(3)?,
                json: r.try_get(4)?,
            })
        })
        .transpose()
        .map_err(state_err)
    }

    /// The last outbox sequence number a relay has handled (acknowledged or refused for good).
    pub async fn cursor(&self, relay: &str) -> Result<i64, Error> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT seq FROM relay_cursor WHERE relay = ?1")
            .bind(relay)
            .fetch_optional(&self.pool)
            .await
            .map_err(state_err)?;
        Ok(seq.unwrap_or(0))
    }

    /// Moves a relay's cursor to `seq`.
    pub async fn set_cursor(&self, relay: &str, seq: i64) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO relay_cursor (relay, seq) VALUES (?1, ?2)
             ON CONFLICT (relay) DO UPDATE SET seq = max(seq, excluded.seq)",
        )
        .bind(relay)
        .bind(seq)
        .execute(&self.pool)
        .await
        .map_err(state_err)?;
        Ok(())
    }

    /// Entries in outbox events after `seq`, and the oldest entry time among them.
    pub async fn unsent_after(&self, seq: i64) -> Result<(i64, Option<i64>), Error> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(entries), 0) AS INTEGER), MIN(oldest)
             FROM outbox WHERE seq > ?1",
        )
        .bind(seq)
        .fetch_one(&self.pool)
        .await
        .map_err(state_err)?;
        Ok((
            row.try_get(0).map_err(state_err)?,
            row.try_get(1).map_err(state_err)?,
        ))
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn event(id: &str, entries: usize) -> OutEvent {
        OutEvent {
            id: id.to_string(),
            kind: 4919,
            created_at: 1,
            entries,
            oldest: None,
            json: "{}".to_string(),
        }
    }

    fn keys(positions: &[i64]) -> Vec<(Feed, Vec<u8>, i64)> {
        positions
            .iter()
            .map(|p| (Feed::Burns, vec![u8::try_from(*p).expect("small"); 33], *p))
            .collect()
    }

    #[tokio::test]
    async fn published_keys_below_the_floor_are_forgotten_and_the_window_still_refuses_repeats() {
        let dir = tempfile::tempdir().expect("dir");
        let state = State::open(&dir.path().join("state.sqlite3"))
            .await
            .expect("open");
        let first = Changes {
            published: keys(&[1, 2, 3]),
            forget_below: vec![(Feed::Burns, 0)],
            ..Changes::default()
        };
        state.store(&event("a", 3), &first).await.expect("stored");
        let second = Changes {
            published: keys(&[4, 5]),
            forget_below: vec![(Feed::Burns, 4)],
            ..Changes::default()
        };
        state.store(&event("b", 2), &second).await.expect("stored");

        let mut kept: Vec<i64> = state
            .published_since(Feed::Burns, i64::MIN)
            .await
            .expect("read")
            .into_iter()
            .map(|(_, pos)| pos)
            .collect();
        kept.sort_unstable();
        assert_eq!(kept, vec![4, 5], "only the window is kept");
        assert_eq!(state.published_count().await.expect("count"), 5);

        // A key of the window again: the whole event is refused, nothing of it stored.
        let again = Changes {
            published: keys(&[5, 6]),
            ..Changes::default()
        };
        assert!(state.store(&event("c", 2), &again).await.is_err());
        assert_eq!(state.published_count().await.expect("count"), 5);
        assert_eq!(state.last_seq().await.expect("seq"), 2);
    }
}
