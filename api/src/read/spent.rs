//! Spent lookups merged across concurrent callers, over the store's
//! [`check_spent`](mintwatch_store::read::check_spent).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot, Semaphore};

use mintwatch_protocol::Point;
use mintwatch_store::read::ReadError;
use mintwatch_store::Store;

pub use mintwatch_store::read::spent::*;

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
