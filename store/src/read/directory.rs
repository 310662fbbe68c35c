//! The directory: search, filter, sort and keyset paging over `mints`.
//!
//! Every sort is turned into an ascending tuple ending in the mint key (descending columns are
//! negated), so "the rows after the cursor" is one row comparison `(k1, k2, key) > (...)`. Paging
//! is therefore stable under inserts: a mint added while a client pages lands in its place in the
//! order and never shifts or repeats the rows of later pages, unlike `OFFSET`.

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, QueryBuilder, Row};

use mintwatch_protocol::output::query::{DirectoryQuery, Sort};
use mintwatch_protocol::MintKey;

use super::{count, cursor, ReadError};

/// One mint in a directory page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MintSummary {
    /// The mint key, x-only (64 hex).
    pub key: String,
    /// Name, from the mint's 11467 or its best 38172.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// URLs.
    pub urls: Vec<String>,
    /// Identity level: `self-signed`, `operator`, `mismatch` or `unbound`.
    pub identity: String,
    /// Rank 0..100; null until the mint has been analysed.
    pub rank: Option<f32>,
    /// Units the mint declares.
    pub units: Vec<String>,
    /// NUTs the mint declares.
    pub nuts: Vec<u16>,
    /// Network (`mainnet`, `testnet`, `signet`, `regtest`, `unknown`), if announced.
    pub network: Option<String>,
    /// Live reviews.
    pub reviews: u64,
    /// Unresolved findings.
    pub findings: u64,
    /// BURN entries published.
    pub burns: u64,
    /// MINT entries (issued signatures) published.
    pub mints: u64,
    /// `created_at` of the first event about the mint.
    pub first_seen: u64,
    /// `created_at` of the latest event about the mint.
    pub last_seen: u64,
}

/// A page of the directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DirectoryPage {
    /// The mints, in the requested order.
    pub mints: Vec<MintSummary>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// The last row of a page, by sort.
#[derive(Debug, Serialize, Deserialize)]
struct DirCursor {
    sort: Sort,
    /// The negated rank (rank sort; -1 stands for unranked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rank: Option<f64>,
    /// The negated counter (reviews, activity sorts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    int: Option<i64>,
    /// Nameless (name sort: named mints first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nameless: Option<bool>,
    /// The lowercased name (name sort).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// The mint key, hex.
    key: String,
}

const COLUMNS: &str = "SELECT m.key, m.name, m.description, m.urls, m.identity, m.rank, m.units,
        m.nuts, m.network, m.review_count, m.finding_count, m.burn_count, m.mint_count,
        m.first_seen, m.last_seen";

/// The SQL sort key of `sort`, as ascending columns (the key is appended by the caller).
fn sort_columns(sort: Sort) -> &'static [&'static str] {
    match sort {
        Sort::Rank => &["-(coalesce(m.rank, -1)::float8)"],
        Sort::Reviews => &["-m.review_count"],
        Sort::Activity => &["-m.last_seen"],
        Sort::Name => &["(m.name IS NULL)", "lower(coalesce(m.name, ''))"],
    }
}

/// Escapes `LIKE` wildcards so user text matches literally.
fn like_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One way a text matches a mint. A search runs each as its own branch (`UNION ALL`, see
/// [`search_mints`]), so that the planner estimates one predicate at a time: a word in every
/// description then walks the rank index and stops after a page, while a rare word reads its few
/// matches through a GIN index; one `OR` of the three made it misjudge both (PERFORMANCE.md §4).
#[derive(Clone, Copy)]
enum TextTest {
    /// Whole words through the tsvector over name, URLs and description.
    Words,
    /// Substrings of the names and URLs (trigram-indexed `search_short`).
    Substring,
    /// Near misses: trigram word similarity with the best-matching stretch of the names and URLs,
    /// so that a typo still finds a name.
    NearMiss,
}

impl TextTest {
    const ALL: [TextTest; 3] = [TextTest::Words, TextTest::Substring, TextTest::NearMiss];

    /// The condition, bare (no leading `AND`).
    fn push_condition(self, b: &mut QueryBuilder<'_, Postgres>, text: &str) {
        match self {
            TextTest::Words => {
                b.push("m.search @@ plainto_tsquery('simple', ");
                b.push_bind(text.to_string());
                b.push(")");
            }
            TextTest::Substring => {
                b.push("m.search_short LIKE ");
                b.push_bind(format!("%{}%", like_literal(&text.to_lowercase())));
            }
            TextTest::NearMiss => {
                b.push_bind(text.to_lowercase());
                b.push(" <% m.search_short");
            }
        }
    }

    /// This branch's condition, after ` WHERE true`. (Excluding the rows the cheap tests match
    /// from the near-miss branch saves its `<%` tests, but the planner then multiplies the
    /// selectivities and walks the whole rank index for a word whose near misses are all exact
    /// matches: 75 ms. Each branch keeps one predicate.)
    fn push_branch(self, b: &mut QueryBuilder<'_, Postgres>, text: &str) {
        b.push(" AND ");
        self.push_condition(b, text);
    }
}

/// The search text of `q`, if any.
fn text_of(q: &DirectoryQuery) -> Option<&str> {
    q.q.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

/// The filters of `q` other than the text.
fn push_filters(b: &mut QueryBuilder<'_, Postgres>, q: &DirectoryQuery) {
    if let Some(unit) = &q.unit {
        // Declared in the 11467, or seen in the mint's own 4919 entries.
        b.push(" AND (");
        b.push_bind(unit.as_str().to_string());
        b.push(" = ANY(m.units) OR EXISTS (SELECT 1 FROM mint_stats s WHERE s.mint = m.key AND s.unit = ");
        b.push_bind(unit.as_str().to_string());
        b.push("))");
    }
    if let Some(nut) = q.nut {
        b.push(" AND ");
        b.push_bind(i32::from(nut));
        b.push(" = ANY(m.nuts)");
    }
    if let Some(network) = q.network {
        b.push(" AND m.network = ");
        b.push_bind(network.as_str());
    }
    if let Some(identity) = q.identity {
        b.push(" AND m.identity = ");
        b.push_bind(identity.as_str());
    }
    if let Some(min) = q.min_rank {
        b.push(" AND m.rank >= ");
        b.push_bind(f32::from(min));
    }
    match q.has_findings {
        Some(true) => {
            b.push(" AND m.finding_count > 0");
        }
        Some(false) => {
            b.push(" AND m.finding_count = 0");
        }
        None => {}
    }
}

fn push_after(
    b: &mut QueryBuilder<'_, Postgres>,
    sort: Sort,
    c: &DirCursor,
) -> Result<(), ReadError> {
    let bad = |what: &str| ReadError::BadCursor(format!("missing {what}"));
    let key = MintKey::parse(&c.key).map_err(|_| ReadError::BadCursor("bad key".into()))?;
    b.push(" AND (");
    b.push(sort_columns(sort).join(", "));
    b.push(", m.key) > (");
    match sort {
        Sort::Rank => {
            b.push_bind(c.rank.ok_or_else(|| bad("rank"))?);
        }
        Sort::Reviews | Sort::Activity => {
            b.push_bind(c.int.ok_or_else(|| bad("counter"))?);
        }
        Sort::Name => {
            b.push_bind(c.nameless.ok_or_else(|| bad("nameless"))?);
            b.push(", ");
            b.push_bind(c.name.clone().ok_or_else(|| bad("name"))?);
        }
    }
    b.push(", ");
    b.push_bind(key.as_bytes().to_vec());
    b.push(")");
    Ok(())
}

fn summary(r: &PgRow) -> Result<MintSummary, ReadError> {
    let key: Vec<u8> = r.try_get("key")?;
    let nuts: Vec<i32> = r.try_get("nuts")?;
    Ok(MintSummary {
        key: hex::encode(key),
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        urls: r.try_get("urls")?,
        identity: r.try_get("identity")?,
        rank: r.try_get("rank")?,
        units: r.try_get("units")?,
        nuts: nuts
            .into_iter()
            .filter_map(|n| u16::try_from(n).ok())
            .collect(),
        network: r.try_get("network")?,
        reviews: count(r.try_get("review_count")?),
        findings: count(r.try_get("finding_count")?),
        burns: count(r.try_get("burn_count")?),
        mints: count(r.try_get("mint_count")?),
        first_seen: count(r.try_get("first_seen")?),
        last_seen: count(r.try_get("last_seen")?),
    })
}

fn cursor_of(sort: Sort, r: &PgRow) -> Result<DirCursor, ReadError> {
    let key: Vec<u8> = r.try_get("key")?;
    let mut c = DirCursor {
        sort,
        rank: None,
        int: None,
        nameless: None,
        name: None,
        key: hex::encode(key),
    };
    match sort {
        Sort::Rank => c.rank = Some(r.try_get("k1")?),
        Sort::Reviews | Sort::Activity => c.int = Some(r.try_get("k1")?),
        Sort::Name => {
            c.nameless = Some(r.try_get("k1")?);
            c.name = Some(r.try_get("k2")?);
        }
    }
    Ok(c)
}

/// One page of the directory for `q` (validated here too: limit, min_rank, text and cursor
/// lengths).
pub async fn search_mints(pool: &PgPool, q: &DirectoryQuery) -> Result<DirectoryPage, ReadError> {
    q.validate()
        .map_err(|e| ReadError::Invalid(e.to_string()))?;
    // PostgreSQL text cannot hold NUL: refuse it here rather than fail the statement.
    if q.q.as_deref().is_some_and(|t| t.contains('\0')) {
        return Err(ReadError::Invalid("q: contains a NUL character".into()));
    }
    let after: Option<DirCursor> = q.cursor.as_deref().map(cursor::decode).transpose()?;
    if let Some(c) = &after {
        if c.sort != q.sort {
            return Err(ReadError::BadCursor(
                "the cursor belongs to another sort order".into(),
            ));
        }
        if c.name.as_deref().is_some_and(|n| n.contains('\0')) {
            return Err(ReadError::BadCursor(
                "not a cursor returned by this API".into(),
            ));
        }
    }
    let limit = usize::from(q.effective_limit());
    let fetch = (limit + 1) as i64;
    let cols = sort_columns(q.sort);
    let order = format!(" ORDER BY {}, m.key LIMIT ", cols.join(", "));
    let mut b = QueryBuilder::<Postgres>::new(COLUMNS);
    for (i, col) in cols.iter().enumerate() {
        b.push(format!(", {col} AS k{}", i + 1));
    }
    b.push(" FROM mints m WHERE ");
    match text_of(q) {
        None => {
            b.push("true");
            push_filters(&mut b, q);
            if let Some(c) = &after {
                push_after(&mut b, q.sort, c)?;
            }
        }
        Some(text) => {
            // The page is within the union of each test's own page (same filters, cursor and
            // order), so each branch stops at `limit + 1`.
            b.push("m.key IN (");
            for (i, test) in TextTest::ALL.into_iter().enumerate() {
                if i > 0 {
                    b.push(" UNION ALL ");
                }
                b.push("(SELECT m.key FROM mints m WHERE true");
                test.push_branch(&mut b, text);
                push_filters(&mut b, q);
                if let Some(c) = &after {
                    push_after(&mut b, q.sort, c)?;
                }
                b.push(&order);
                b.push_bind(fetch);
                b.push(")");
            }
            b.push(")");
        }
    }
    b.push(&order);
    b.push_bind(fetch);
    // Not a named prepared statement: PostgreSQL then plans with the actual text (a generic plan
    // cannot tell a word in every description from a rare one, and picks one plan for both).
    let rows = b.build().persistent(false).fetch_all(pool).await?;
    let more = rows.len() > limit;
    let page = &rows[..rows.len().min(limit)];
    let next_cursor = match (more, page.last()) {
        (true, Some(last)) => Some(cursor::encode(&cursor_of(q.sort, last)?)),
        _ => None,
    };
    Ok(DirectoryPage {
        mints: page.iter().map(summary).collect::<Result<_, _>>()?,
        next_cursor,
    })
}
