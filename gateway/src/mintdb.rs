//! Reading the mint's own database, read-only: its keysets, its spent proofs and its issued blind
//! signatures, for nutshell and cdk-mintd, on SQLite or PostgreSQL.
//!
//! Each feed (burns, mints) is read in order of a *position*: an integer the schema provides
//! that grows with commit order, or nearly. Where it is exact (SQLite's `rowid` of an append-only
//! table: SQLite has one writer at a time), the feed reads from its watermark on; where it is a
//! timestamp (a row committed a little after it was stamped can appear behind rows already
//! read), the feed re-reads [`MintDb::overlap`] before its watermark and skips the rows it
//! already published (see `feed.rs`).

use std::str::FromStr;

use futures::stream::BoxStream;
use futures::StreamExt;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Row};

use mintwatch_protocol::types::{Amount, Point};

use crate::error::Error;

/// Which mint wrote the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MintKind {
    /// nutshell (PyPI `cashu`): tables `proofs_used`, `promises`, `keysets`.
    Nutshell,
    /// cdk-mintd: tables `proof`, `blind_signature`, `keyset`.
    Cdk,
}

impl FromStr for MintKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "nutshell" => Ok(MintKind::Nutshell),
            "cdk" => Ok(MintKind::Cdk),
            other => Err(Error::Config(format!(
                "mint kind {other:?}: expected nutshell or cdk"
            ))),
        }
    }
}

impl MintKind {
    /// `nutshell` or `cdk`.
    pub fn as_str(self) -> &'static str {
        match self {
            MintKind::Nutshell => "nutshell",
            MintKind::Cdk => "cdk",
        }
    }
}

/// The SQL dialect of the mint's database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// One keyset of the mint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysetRow {
    /// The keyset id (hex).
    pub id: String,
    /// Its unit (`sat`, `usd`, …).
    pub unit: String,
    /// Whether the mint still signs with it.
    pub active: bool,
}

/// A spent proof: a BURN entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BurnRow {
    /// Feed position (see the module documentation).
    pub pos: i64,
    /// Unix time the mint stamped on the row.
    pub time: i64,
    /// `Y = hash_to_curve(secret)`.
    pub y: Point,
    /// Amount.
    pub amount: Amount,
}

/// An issued blind signature: a MINT entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MintRow {
    /// Feed position.
    pub pos: i64,
    /// Unix time the mint stamped on the signature.
    pub time: i64,
    /// Blinded message.
    pub b_: Point,
    /// Blind signature.
    pub c_: Point,
    /// Amount.
    pub amount: Amount,
}

/// A row of either feed, with the keyset that signed it (the caller maps it to unit and epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyed<T> {
    /// The keyset id.
    pub keyset: String,
    /// The row.
    pub row: T,
}

/// A row the gateway cannot publish (a point that is not on the curve, an amount out of range):
/// logged and counted, never silently dropped.
#[derive(Debug, Clone)]
pub struct BadRow {
    /// The feed position, so the operator can find the row.
    pub pos: i64,
    /// What is wrong.
    pub why: String,
}

/// Rows of one feed as the database yields them: a database error ends the scan; a row that
/// cannot be published is a [`BadRow`].
pub type RowStream<'a, T> = BoxStream<'a, Result<Result<Keyed<T>, BadRow>, Error>>;

/// The SQL of one mint kind on one backend.
struct Queries {
    keysets: &'static str,
    max_burn_pos: &'static str,
    burns: &'static str,
    mints: &'static str,
    rows: &'static str,
    /// Seconds re-read before the watermark of a timestamp-ordered feed (0 where exact).
    burn_overlap: i64,
    mint_overlap: i64,
    /// The lowest burn position of a proof still pending, where a pending proof keeps its
    /// position when it becomes spent (cdk: `created_time` is stamped when the proof is
    /// reserved, and a melt can stay pending for minutes); `None` where pending proofs are
    /// elsewhere until spent (nutshell's `proofs_pending`).
    pending_floor: Option<&'static str>,
}

/// How far a timestamp-ordered feed re-reads before its watermark: a row stamped up to this
/// long before it committed is still found.
pub const TIMESTAMP_OVERLAP_SECS: i64 = 120;

const NUTSHELL_SQLITE: Queries = Queries {
    keysets: "SELECT id, COALESCE(unit, 'sat') AS unit,
                     CAST(COALESCE(active, 0) AS INTEGER) AS active,
                     rowid AS ord, COALESCE(derivation_path, '') AS path
              FROM keysets",
    max_burn_pos: "SELECT CAST(COALESCE(MAX(rowid), 0) AS INTEGER) FROM proofs_used",
    // rowid: exact (one writer at a time; used proofs are never deleted).
    burns: "SELECT rowid AS pos, CAST(COALESCE(created, 0) AS INTEGER) AS t, y AS p1, '' AS p2,
                   CAST(amount AS INTEGER) AS amount, COALESCE(id, '') AS keyset
            FROM proofs_used
            WHERE rowid >= ?1 AND rowid <= ?2 AND y IS NOT NULL
            ORDER BY rowid",
    // A promise is inserted unsigned and signed later (melt change): ordered by when it was
    // signed, not by rowid.
    mints: "SELECT CAST(COALESCE(signed_at, created, 0) AS INTEGER) AS pos,
                   CAST(COALESCE(signed_at, created, 0) AS INTEGER) AS t, b_ AS p1, c_ AS p2,
                   CAST(amount AS INTEGER) AS amount, COALESCE(id, '') AS keyset
            FROM promises
            WHERE c_ IS NOT NULL AND CAST(COALESCE(signed_at, created, 0) AS INTEGER) >= ?1
            ORDER BY pos, b_",
    rows: "SELECT (SELECT count(*) FROM proofs_used WHERE y IS NOT NULL)
                + (SELECT count(*) FROM promises WHERE c_ IS NOT NULL)",
    burn_overlap: 0,
    mint_overlap: TIMESTAMP_OVERLAP_SECS,
    pending_floor: None,
};

const NUTSHELL_POSTGRES: Queries = Queries {
    keysets: "SELECT id, COALESCE(unit, 'sat') AS unit,
                     CAST(CASE WHEN active THEN 1 ELSE 0 END AS BIGINT) AS active,
                     CAST(COALESCE(EXTRACT(EPOCH FROM valid_from), 0) AS BIGINT) AS ord,
                     COALESCE(derivation_path, '') AS path
              FROM keysets",
    max_burn_pos: "SELECT CAST(COALESCE(MAX(EXTRACT(EPOCH FROM created)), 0) AS BIGINT)
                   FROM proofs_used",
    burns: "SELECT CAST(EXTRACT(EPOCH FROM created) AS BIGINT) AS pos,
                   CAST(EXTRACT(EPOCH FROM created) AS BIGINT) AS t, y AS p1, '' AS p2,
                   CAST(amount AS BIGINT) AS amount, COALESCE(id, '') AS keyset
            FROM proofs_used
            WHERE y IS NOT NULL AND created IS NOT NULL
              AND CAST(EXTRACT(EPOCH FROM created) AS BIGINT) BETWEEN $1 AND $2
            ORDER BY 1, y",
    mints: "SELECT CAST(EXTRACT(EPOCH FROM COALESCE(signed_at, created)) AS BIGINT) AS pos,
                   CAST(EXTRACT(EPOCH FROM COALESCE(signed_at, created)) AS BIGINT) AS t,
                   b_ AS p1, c_ AS p2, CAST(amount AS BIGINT) AS amount,
                   COALESCE(id, '') AS keyset
            FROM promises
            WHERE c_ IS NOT NULL AND COALESCE(signed_at, created) IS NOT NULL
              AND CAST(EXTRACT(EPOCH FROM COALESCE(signed_at, created)) AS BIGINT) >= $1
            ORDER BY 1, b_",
    rows: "SELECT CAST((SELECT count(*) FROM proofs_used WHERE y IS NOT NULL)
                     + (SELECT count(*) FROM promises WHERE c_ IS NOT NULL) AS BIGINT)",
    burn_overlap: TIMESTAMP_OVERLAP_SECS,
    mint_overlap: TIMESTAMP_OVERLAP_SECS,
    pending_floor: None,
};

/// cdk-mintd on PostgreSQL (cdk 0.18: `proof`, `blind_signature`, `keyset`; points as BYTEA,
/// times as unix seconds). A proof row is written `PENDING` when a swap or melt reserves it and
/// turns `SPENT` in place, keeping its `created_time`: hence the pending floor.
const CDK_POSTGRES: Queries = Queries {
    keysets: "SELECT id, unit, CAST(CASE WHEN active THEN 1 ELSE 0 END AS BIGINT) AS active,
                     CAST(COALESCE(valid_from, 0) AS BIGINT) AS ord,
                     COALESCE(derivation_path, '') AS path
              FROM keyset",
    max_burn_pos: "SELECT CAST(COALESCE(MAX(created_time), 0) AS BIGINT) FROM proof
                   WHERE state = 'SPENT'",
    burns: "SELECT CAST(created_time AS BIGINT) AS pos, CAST(created_time AS BIGINT) AS t,
                   encode(y, 'hex') AS p1, '' AS p2, CAST(amount AS BIGINT) AS amount,
                   keyset_id AS keyset
            FROM proof
            WHERE state = 'SPENT' AND created_time BETWEEN $1 AND $2
            ORDER BY 1, y",
    // Change outputs of a melt are written unsigned and signed later: ordered by signing time.
    mints: "SELECT CAST(COALESCE(signed_time, created_time) AS BIGINT) AS pos,
                   CAST(COALESCE(signed_time, created_time) AS BIGINT) AS t,
                   encode(blinded_message, 'hex') AS p1, encode(c, 'hex') AS p2,
                   CAST(amount AS BIGINT) AS amount, keyset_id AS keyset
            FROM blind_signature
            WHERE c IS NOT NULL AND COALESCE(signed_time, created_time) >= $1
            ORDER BY 1, blinded_message",
    rows: "SELECT CAST((SELECT count(*) FROM proof WHERE state = 'SPENT')
                     + (SELECT count(*) FROM blind_signature WHERE c IS NOT NULL) AS BIGINT)",
    burn_overlap: TIMESTAMP_OVERLAP_SECS,
    mint_overlap: TIMESTAMP_OVERLAP_SECS,
    pending_floor: Some(
        "SELECT CAST(MIN(created_time) AS BIGINT) FROM proof WHERE state = 'PENDING'",
    ),
};

/// cdk-mintd on SQLite (its default engine; cdk 0.18's `cdk-sqlite` books have the same tables
/// as on PostgreSQL, with points as BLOB and times as unix seconds).
const CDK_SQLITE: Queries = Queries {
    keysets: "SELECT id, unit, CAST(COALESCE(active, 0) AS INTEGER) AS active,
                     CAST(COALESCE(valid_from, 0) AS INTEGER) AS ord,
                     COALESCE(derivation_path, '') AS path
              FROM keyset",
    max_burn_pos: "SELECT CAST(COALESCE(MAX(created_time), 0) AS INTEGER) FROM proof
                   WHERE state = 'SPENT'",
    burns: "SELECT CAST(created_time AS INTEGER) AS pos, CAST(created_time AS INTEGER) AS t,
                   lower(hex(y)) AS p1, '' AS p2, CAST(amount AS INTEGER) AS amount,
                   keyset_id AS keyset
            FROM proof
            WHERE state = 'SPENT' AND created_time BETWEEN ?1 AND ?2
            ORDER BY 1, y",
    mints: "SELECT CAST(COALESCE(signed_time, created_time) AS INTEGER) AS pos,
                   CAST(COALESCE(signed_time, created_time) AS INTEGER) AS t,
                   lower(hex(blinded_message)) AS p1, lower(hex(c)) AS p2,
                   CAST(amount AS INTEGER) AS amount, keyset_id AS keyset
            FROM blind_signature
            WHERE c IS NOT NULL AND COALESCE(signed_time, created_time) >= ?1
            ORDER BY 1, blinded_message",
    rows: "SELECT (SELECT count(*) FROM proof WHERE state = 'SPENT')
                + (SELECT count(*) FROM blind_signature WHERE c IS NOT NULL)",
    burn_overlap: TIMESTAMP_OVERLAP_SECS,
    mint_overlap: TIMESTAMP_OVERLAP_SECS,
    pending_floor: Some(
        "SELECT CAST(MIN(created_time) AS INTEGER) FROM proof WHERE state = 'PENDING'",
    ),
};

/// The mint's database, opened read-only.
pub struct MintDb {
    pool: AnyPool,
    kind: MintKind,
    queries: &'static Queries,
}

/// Which feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Feed {
    /// Spent proofs.
    Burns,
    /// Issued signatures.
    Mints,
}

impl Feed {
    /// `burn` or `mint` (metric labels, state keys).
    pub fn as_str(self) -> &'static str {
        match self {
            Feed::Burns => "burn",
            Feed::Mints => "mint",
        }
    }
}

impl MintDb {
    /// Opens `url` (a SQLite path or `sqlite:` URL, or a `postgres://` URL) read-only and finds
    /// the mint kind from its tables unless `kind` is given.
    pub async fn open(url: &str, kind: Option<MintKind>) -> Result<Self, Error> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_string())
        } else {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            let path = path.strip_prefix("sqlite:").unwrap_or(path);
            let path = path.split('?').next().unwrap_or(path);
            if !std::path::Path::new(path).is_file() {
                return Err(Error::Config(format!(
                    "mint database {path}: no such file (give the mint's SQLite file, e.g. \
                     nutshell's <MINT_DATABASE>/mint.sqlite3, or a postgres:// URL)"
                )));
            }
            (Backend::Sqlite, format!("sqlite://{path}?mode=ro"))
        };
        let options = AnyConnectOptions::from_str(&url).map_err(Error::MintDb)?;
        let pool = AnyPoolOptions::new()
            .max_connections(2)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    let setup = match backend {
                        // Read-only: a bug here can never write to the mint's books.
                        Backend::Postgres => "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
                        Backend::Sqlite => "PRAGMA busy_timeout = 5000",
                    };
                    sqlx::query(setup).execute(conn).await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(Error::MintDb)?;
        let tables = tables(&pool, backend).await?;
        let has = |t: &str| tables.iter().any(|n| n == t);
        let detected = if has("proofs_used") && has("promises") && has("keysets") {
            Some(MintKind::Nutshell)
        } else if has("proof") && has("blind_signature") && has("keyset") {
            Some(MintKind::Cdk)
        } else {
            None
        };
        let kind = match (kind, detected) {
            (Some(k), Some(d)) if k != d => {
                return Err(Error::Config(format!(
                    "--mint-kind {} but the database has the tables of a {} mint",
                    k.as_str(),
                    d.as_str()
                )))
            }
            (Some(k), _) | (None, Some(k)) => k,
            (None, None) => {
                return Err(Error::Config(
                    "the mint database has neither nutshell's tables (proofs_used, promises, \
                     keysets) nor cdk's (proof, blind_signature, keyset); is the mint started \
                     and --mint-db right?"
                        .to_string(),
                ))
            }
        };
        let queries = match (kind, backend) {
            (MintKind::Nutshell, Backend::Sqlite) => &NUTSHELL_SQLITE,
            (MintKind::Nutshell, Backend::Postgres) => &NUTSHELL_POSTGRES,
            (MintKind::Cdk, Backend::Postgres) => &CDK_POSTGRES,
            (MintKind::Cdk, Backend::Sqlite) => &CDK_SQLITE,
        };
        Ok(MintDb {
            pool,
            kind,
            queries,
        })
    }

    /// The mint kind.
    pub fn kind(&self) -> MintKind {
        self.kind
    }

    /// Seconds (or positions) a feed re-reads before its watermark.
    pub fn overlap(&self, feed: Feed) -> i64 {
        match feed {
            Feed::Burns => self.queries.burn_overlap,
            Feed::Mints => self.queries.mint_overlap,
        }
    }

    /// Every keyset, in the order the mint created them.
    pub async fn keysets(&self) -> Result<Vec<KeysetRow>, Error> {
        let rows = sqlx::query(self.queries.keysets)
            .fetch_all(&self.pool)
            .await
            .map_err(Error::MintDb)?;
        let mut keysets = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = row.try_get("id").map_err(Error::MintDb)?;
            let unit: String = row.try_get("unit").map_err(Error::MintDb)?;
            let active: i64 = row.try_get("active").map_err(Error::MintDb)?;
            let ord: i64 = row.try_get("ord").map_err(Error::MintDb)?;
            let path: String = row.try_get("path").map_err(Error::MintDb)?;
            keysets.push((
                (ord, path_counter(&path), id.clone()),
                KeysetRow {
                    id,
                    unit,
                    active: active != 0,
                },
            ));
        }
        // Creation order: SQLite's rowid, else the validity start; a rotation counter (the last
        // step of the derivation path) breaks ties, as nutshell stamps a rotated-out keyset
        // with the time of the rotation.
        keysets.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(keysets.into_iter().map(|(_, k)| k).collect())
    }

    /// The lowest position of a burn still pending (see [`Queries::pending_floor`]), which a
    /// burn read must reach back to; `None` when nothing is pending or the mint keeps pending
    /// proofs apart.
    pub async fn pending_burn_floor(&self) -> Result<Option<i64>, Error> {
        let Some(sql) = self.queries.pending_floor else {
            return Ok(None);
        };
        sqlx::query_scalar(sql)
            .fetch_one(&self.pool)
            .await
            .map_err(Error::MintDb)
    }

    /// The highest burn position now.
    pub async fn max_burn_pos(&self) -> Result<i64, Error> {
        sqlx::query_scalar(self.queries.max_burn_pos)
            .fetch_one(&self.pool)
            .await
            .map_err(Error::MintDb)
    }

    /// Spent proofs and issued signatures in the database now.
    pub async fn row_count(&self) -> Result<i64, Error> {
        sqlx::query_scalar(self.queries.rows)
            .fetch_one(&self.pool)
            .await
            .map_err(Error::MintDb)
    }

    /// Spent proofs with `from <= pos <= to`, in position order, streamed (memory does not grow
    /// with the table). A row that cannot be published comes as a [`BadRow`]. Read ahead of the
    /// consumer (see [`read_ahead`]).
    pub fn burns(&self, from: i64, to: i64) -> RowStream<'static, BurnRow> {
        read_ahead(
            self.pool.clone(),
            self.queries.burns,
            [from, to],
            RawRow::burn,
        )
    }

    /// Issued signatures with `pos >= from`, in position order, streamed and read ahead.
    pub fn mints(&self, from: i64) -> RowStream<'static, MintRow> {
        read_ahead(self.pool.clone(), self.queries.mints, [from], RawRow::mint)
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The points of a batch of rows, checked, in the order the rows' columns hold them.
type CheckedPoints = std::vec::IntoIter<Result<Point, String>>;

/// One batch of rows, read and checked.
type Chunk<T> = Vec<Result<Result<Keyed<T>, BadRow>, Error>>;

/// Batches of [`POINT_BATCH`] rows read ahead of the consumer, at most.
const CHUNKS_AHEAD: usize = 4;

/// Runs `sql` with `binds` on a task of its own that reads the rows, checks their points on the
/// curve [`POINT_BATCH`] rows at a time ([`Point::parse_many`]) and builds them with `build`,
/// up to [`CHUNKS_AHEAD`] batches ahead: the mint's database is read and checked while the
/// consumer packs, signs and stores what came before (on two cores, each has one). Dropping the
/// stream stops the task at its next batch.
fn read_ahead<T: Send + 'static, const N: usize>(
    pool: AnyPool,
    sql: &'static str,
    binds: [i64; N],
    build: fn(RawRow, &mut CheckedPoints) -> Result<Keyed<T>, BadRow>,
) -> RowStream<'static, T> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Chunk<T>>(CHUNKS_AHEAD);
    tokio::spawn(async move {
        let mut query = sqlx::query(sql);
        for b in binds {
            query = query.bind(b);
        }
        let mut chunks = query
            .fetch(&pool)
            .map(|row| RawRow::read(&row.map_err(Error::MintDb)?))
            .chunks(POINT_BATCH);
        while let Some(chunk) = chunks.next().await {
            if tx.send(check_chunk(chunk, build)).await.is_err() {
                return;
            }
        }
    });
    futures::stream::unfold(rx, |mut rx| async move {
        let chunk = rx.recv().await?;
        Some((futures::stream::iter(chunk), rx))
    })
    .flatten()
    .boxed()
}

/// Checks the points of a batch of rows at once and builds each row.
fn check_chunk<T>(
    chunk: Vec<Result<RawRow, Error>>,
    build: fn(RawRow, &mut CheckedPoints) -> Result<Keyed<T>, BadRow>,
) -> Chunk<T> {
    let texts: Vec<&str> = chunk
        .iter()
        .flatten()
        .flat_map(|r| [r.p1.as_deref(), r.p2.as_deref()])
        .flatten()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    let mut points = Point::parse_many(&texts)
        .into_iter()
        .zip(&texts)
        .map(|(p, t)| p.map_err(|e| format!("{t:?}: {e}")))
        .collect::<Vec<_>>()
        .into_iter();
    chunk
        .into_iter()
        .map(|row| Ok(build(row?, &mut points)))
        .collect()
}

/// Rows read before their points are checked as one batch.
const POINT_BATCH: usize = 1_024;

/// The columns every feed query returns.
struct RawRow {
    pos: i64,
    time: i64,
    p1: Option<String>,
    p2: Option<String>,
    amount: i64,
    keyset: String,
}

impl RawRow {
    fn read(row: &sqlx::any::AnyRow) -> Result<Self, Error> {
        Ok(RawRow {
            pos: row.try_get("pos").map_err(Error::MintDb)?,
            time: row.try_get("t").map_err(Error::MintDb)?,
            p1: row.try_get("p1").map_err(Error::MintDb)?,
            p2: row.try_get("p2").map_err(Error::MintDb)?,
            amount: row.try_get("amount").map_err(Error::MintDb)?,
            keyset: row.try_get("keyset").map_err(Error::MintDb)?,
        })
    }

    fn bad(&self, why: String) -> BadRow {
        BadRow { pos: self.pos, why }
    }

    /// The next pre-checked point of this row (see [`checked`]), in column order.
    fn point(
        &self,
        value: &Option<String>,
        name: &str,
        points: &mut CheckedPoints,
    ) -> Result<Point, BadRow> {
        match value.as_deref().map(str::trim) {
            None | Some("") => Err(self.bad(format!("{name} is NULL"))),
            Some(_) => match points.next() {
                Some(Ok(p)) => Ok(p),
                Some(Err(why)) => Err(self.bad(format!("{name} {why}"))),
                None => Err(self.bad(format!("{name}: not checked"))),
            },
        }
    }

    fn amount(&self) -> Result<Amount, BadRow> {
        u64::try_from(self.amount)
            .ok()
            .and_then(|a| Amount::new(a).ok())
            .ok_or_else(|| self.bad(format!("amount {} out of range", self.amount)))
    }

    fn burn(self, points: &mut CheckedPoints) -> Result<Keyed<BurnRow>, BadRow> {
        // Both columns' points were queued: take both, whatever fails, so the next row's line up.
        let y = self.point(&self.p1, "Y", points);
        let _unused = self.point(&self.p2, "", points);
        let row = BurnRow {
            pos: self.pos,
            time: self.time,
            y: y?,
            amount: self.amount()?,
        };
        Ok(Keyed {
            keyset: self.keyset,
            row,
        })
    }

    fn mint(self, points: &mut CheckedPoints) -> Result<Keyed<MintRow>, BadRow> {
        let b_ = self.point(&self.p1, "B_", points);
        let c_ = self.point(&self.p2, "C_", points);
        let row = MintRow {
            pos: self.pos,
            time: self.time,
            b_: b_?,
            c_: c_?,
            amount: self.amount()?,
        };
        Ok(Keyed {
            keyset: self.keyset,
            row,
        })
    }
}

/// The last step of a derivation path as a number (`m/0'/0'/3'` → 3); 0 if it has none.
fn path_counter(path: &str) -> u64 {
    path.rsplit('/')
        .next()
        .map(|s| s.trim_end_matches(['\'', 'h']))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

async fn tables(pool: &AnyPool, backend: Backend) -> Result<Vec<String>, Error> {
    let sql = match backend {
        Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table'",
        Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables
             WHERE table_schema = current_schema()"
        }
    };
    sqlx::query_scalar(sql)
        .fetch_all(pool)
        .await
        .map_err(Error::MintDb)
}

#[cfg(test)]
mod tests {
    use super::path_counter;

    #[test]
    fn the_rotation_counter_is_the_last_step_of_the_path() {
        assert_eq!(path_counter("m/0'/0'/0'"), 0);
        assert_eq!(path_counter("m/0'/0'/12'"), 12);
        assert_eq!(path_counter("m/0'/2'/3h"), 3);
        assert_eq!(path_counter(""), 0);
    }
}
