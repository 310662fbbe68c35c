//! Spent lookups: which mints burnt a `Y`, in which of their signed 4919 events.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot, Semaphore};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use mintwatch_indexer::store::{Store, StoreError};
use mintwatch_protocol::output::query::MAX_CHECK_SPENT_YS;
use mintwatch_protocol::Point;

use super::ReadError;

/// The most `Y`s one lookup may ask about (the same bound as the nostr `check_spent`).
pub const MAX_SPENT_YS: usize = MAX_CHECK_SPENT_YS;

/// One mint's burns of a `Y`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Burn {
    /// The mint that burnt it (x-only, hex): the signer of the events below.
    pub mint: String,
    /// The amount of the entry.
    pub amount: u64,
    /// Unit.
    pub unit: String,
    /// Epoch.
    pub epoch: u64,
    /// The mint-signed 4919 events that contain it (ids, hex, each once).
    pub events: Vec<String>,
    /// BURN entries in those events (more than one is a double-spend).
    pub entries: u64,
}

/// An unresolved finding about a `Y`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct YFinding {
    /// The mint accused.
    pub mint: String,
    /// `double-spend` or `cross-mint-collision`.
    pub kind: String,
}

/// What is known about one `Y`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SpentEntry {
    /// The `Y` asked about (compressed, hex).
    #[serde(rename = "Y")]
    pub y: String,
    /// Its burns, per (mint, unit, epoch, amount); empty when no stored 4919 burns it.
    pub burnt: Vec<Burn>,
    /// Unresolved findings about it.
    pub findings: Vec<YFinding>,
}

/// Burns and unresolved findings of the `Y`s in `$1`, in one statement (one round trip: the
/// one-`Y` lookup is the hottest read). Burns come first within a (y, mint), in event and entry
/// order; findings by kind.
const LOOKUP: &str = "SELECT y, mint, event_id, amount, unit, epoch, NULL::text AS kind, pos
        FROM burns WHERE y = ANY($1)
    UNION ALL
    SELECT y, mint, NULL, NULL, NULL, NULL, kind, NULL
        FROM findings WHERE y = ANY($1) AND NOT resolved
    ORDER BY y, mint, kind NULLS FIRST, event_id, pos";

/// mint (hex), unit, epoch, amount: one [`Burn`] of a `Y`.
type BurnKey = (String, String, u64, u64);
/// A `Y`'s burns: per [`BurnKey`], the events (hex ids, each once) and the entry count.
type BurnGroups = BTreeMap<BurnKey, (Vec<String>, u64)>;

/// y, mint, event_id, amount, unit, epoch (burns); kind (findings); pos.
type LookupRow = (
    Vec<u8>,
    Vec<u8>,
    Option<Vec<u8>>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<i32>,
);

fn stored_u64(v: Option<i64>, field: &'static str) -> Result<u64, ReadError> {
    v.and_then(|v| u64::try_from(v).ok()).ok_or_else(|| {
        ReadError::Store(StoreError::Corrupt {
            field,
            why: format!("{v:?}"),
        })
    })
}

/// Looks up `ys` (any number up to [`MAX_SPENT_YS`]; duplicates are answered twice) in one
/// query, and answers in the order asked. Stored keys and ids are shown as stored (they were
/// checked on the way in), so the answer costs no curve arithmetic per row.
pub async fn check_spent(store: &Store, ys: &[Point]) -> Result<Vec<SpentEntry>, ReadError> {
    if ys.len() > MAX_SPENT_YS {
        return Err(ReadError::Invalid(format!(
            "Ys: {} Ys, at most {MAX_SPENT_YS}",
            ys.len()
        )));
    }
    let unique: BTreeSet<&[u8]> = ys.iter().map(|y| y.as_bytes().as_slice()).collect();
    let bytes: Vec<&[u8]> = unique.into_iter().collect();
    let rows: Vec<LookupRow> = sqlx::query_as(LOOKUP)
        .bind(&bytes)
        .fetch_all(store.pool())
        .await?;
    let mut burns: BTreeMap<Vec<u8>, BurnGroups> = BTreeMap::new();
    let mut findings: BTreeMap<Vec<u8>, Vec<YFinding>> = BTreeMap::new();
    for (y, mint, event_id, amount, unit, epoch, kind, _pos) in rows {
        let mint = hex::encode(mint);
        if let Some(kind) = kind {
            findings.entry(y).or_default().push(YFinding { mint, kind });
            continue;
        }
        let key = (
            mint,
            unit.unwrap_or_default(),
            stored_u64(epoch, "burns.epoch")?,
            stored_u64(amount, "burns.amount")?,
        );
        let (events, entries) = burns.entry(y).or_default().entry(key).or_default();
        let id = hex::encode(event_id.unwrap_or_default());
        if !events.contains(&id) {
            events.push(id);
        }
        *entries += 1;
    }
    Ok(ys
        .iter()
        .map(|y| {
            let y_bytes = y.as_bytes().as_slice();
            SpentEntry {
                y: y.to_hex(),
                burnt: burns
                    .get(y_bytes)
                    .map(|groups| {
                        groups
                            .iter()
                            .map(|((mint, unit, epoch, amount), (events, entries))| Burn {
                                mint: mint.clone(),
                                amount: *amount,
                                unit: unit.clone(),
                                epoch: *epoch,
                                events: events.clone(),
                                entries: *entries,
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                findings: findings.get(y_bytes).cloned().unwrap_or_default(),
            }
        })
        .collect())
}

/// How many merged lookups may run at once. Half the API's pool: the other routes keep
/// connections while lookups queue, and each merged statement serves every request that
/// arrived while the previous ones ran.
const SPENT_LOOKUPS_IN_FLIGHT: usize = 4;

/// How many requests may wait for a merged lookup before callers wait to enqueue (backpressure
/// instead of an unbounded queue).
const SPENT_QUEUE_DEPTH: usize = 4_096;

/// One caller's `Y`s and where its answer goes: its entries, or why the merged lookup failed
/// (the same text for every caller of that lookup).
struct SpentRequest {
    ys: Vec<Point>,
    reply: oneshot::Sender<Result<Vec<SpentEntry>, String>>,
}

/// Spent lookups merged across concurrent callers: the requests that arrive while
/// [`SPENT_LOOKUPS_IN_FLIGHT`] lookups are running are answered together by one
/// [`check_spent`] of all their `Y`s (up to [`MAX_SPENT_YS`]), so under load PostgreSQL runs one
/// statement for many requests instead of one each. An idle server still answers a lone request
/// at once: nothing waits for a batch to fill. Answers are exactly [`check_spent`]'s.
///
/// Cheap to clone; the merging task starts on first use (inside the caller's runtime) and stops
/// when the last clone is dropped.
#[derive(Clone)]
pub struct SpentLookups {
    store: Store,
    queue: Arc<OnceLock<mpsc::Sender<SpentRequest>>>,
    counts: Arc<Counts>,
}

/// What [`SpentLookups`] has done so far (also exported as `mintwatch_spent_statements_total`
/// and `mintwatch_spent_requests_total`).
#[derive(Debug, Default)]
struct Counts {
    statements: AtomicU64,
    requests: AtomicU64,
}

/// How many requests [`SpentLookups`] answered with how many statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergeCounts {
    /// Lookup statements run.
    pub statements: u64,
    /// Requests answered by them.
    pub requests: u64,
}

impl std::fmt::Debug for SpentLookups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpentLookups").finish_non_exhaustive()
    }
}

impl SpentLookups {
    /// Lookups over `store`.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            queue: Arc::new(OnceLock::new()),
            counts: Arc::default(),
        }
    }

    /// Statements run and requests answered so far by merged lookups.
    pub fn counts(&self) -> MergeCounts {
        MergeCounts {
            statements: self.counts.statements.load(Ordering::Relaxed),
            requests: self.counts.requests.load(Ordering::Relaxed),
        }
    }

    /// [`check_spent`] of `ys`, merged with whatever other lookups are waiting.
    pub async fn check(&self, ys: Vec<Point>) -> Result<Vec<SpentEntry>, ReadError> {
        if ys.is_empty() || ys.len() > MAX_SPENT_YS {
            // Out-of-range requests get check_spent's own answer, unmerged.
            return check_spent(&self.store, &ys).await;
        }
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(SPENT_QUEUE_DEPTH);
            tokio::spawn(merge_lookups(self.store.clone(), rx, self.counts.clone()));
            tx
        });
        let (reply, answer) = oneshot::channel();
        queue
            .send(SpentRequest { ys, reply })
            .await
            .map_err(|_| ReadError::Merged("the lookup task stopped".into()))?;
        match answer.await {
            Ok(Ok(entries)) => Ok(entries),
            Ok(Err(why)) => Err(ReadError::Merged(why)),
            Err(_) => Err(ReadError::Merged("the lookup was dropped".into())),
        }
    }
}

/// The merging task: takes a request, waits for a free lookup slot (the queue fills meanwhile),
/// then drains the queue up to [`MAX_SPENT_YS`] `Y`s and runs them as one lookup.
async fn merge_lookups(store: Store, mut queue: mpsc::Receiver<SpentRequest>, counts: Arc<Counts>) {
    let slots = Arc::new(Semaphore::new(SPENT_LOOKUPS_IN_FLIGHT));
    let mut carried: Option<SpentRequest> = None;
    loop {
        let first = match carried.take() {
            Some(request) => request,
            None => match queue.recv().await {
                Some(request) => request,
                None => return,
            },
        };
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut total = first.ys.len();
        let mut batch = vec![first];
        while let Ok(next) = queue.try_recv() {
            if total + next.ys.len() > MAX_SPENT_YS {
                carried = Some(next);
                break;
            }
            total += next.ys.len();
            batch.push(next);
        }
        let requests = batch.len() as u64;
        counts.statements.fetch_add(1, Ordering::Relaxed);
        counts.requests.fetch_add(requests, Ordering::Relaxed);
        metrics::counter!("mintwatch_spent_statements_total").increment(1);
        metrics::counter!("mintwatch_spent_requests_total").increment(requests);
        let store = store.clone();
        tokio::spawn(async move {
            answer_merged(&store, batch).await;
            drop(slot);
        });
    }
}

/// Runs one lookup for every `Y` of `batch` and hands each caller its own entries, in its order.
async fn answer_merged(store: &Store, batch: Vec<SpentRequest>) {
    let ys: Vec<Point> = batch.iter().flat_map(|r| r.ys.iter().copied()).collect();
    match check_spent(store, &ys).await {
        Ok(entries) => {
            let mut entries = entries.into_iter();
            for request in batch {
                let own: Vec<SpentEntry> = entries.by_ref().take(request.ys.len()).collect();
                // A caller that went away (client disconnected) needs no answer.
                let _ = request.reply.send(Ok(own));
            }
        }
        Err(e) => {
            let why = e.to_string();
            for request in batch {
                let _ = request.reply.send(Err(why.clone()));
            }
        }
    }
}
