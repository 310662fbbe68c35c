//! The spent-secret feed: reads what is new in the mint's database, packs it into 4919 events
//! (MINT entries before BURN entries, chained with `e`), closes the epoch of a deactivated keyset
//! with a 1337, and stores every event in the outbox before any relay sees it (see `state.rs`).
//!
//! One cycle reads the highest burn position first, then every new signature, then the burns up
//! to that position: a burnt proof was signed before it was spent, so its MINT entry is always
//! published no later than its BURN entry, and no prefix of the feed shows more burnt than minted.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use futures::StreamExt;
use nostr::{EventBuilder, JsonUtil, Keys, Kind, Tag, Timestamp};
use tokio::sync::watch;
use tracing::{error, info};

use mintwatch_protocol::broadcast::{BurnEntry, FinEpoch, MintEntry};
use mintwatch_protocol::kinds::{CASHU_DATA, FIN_EPOCH, MAX_EVENT_JSON_BYTES};
use mintwatch_protocol::types::{Epoch, Unit};
use mintwatch_protocol::EventId;

use crate::batch::{Batch, EVENT_OVERHEAD_BYTES};
use crate::error::Error;
use crate::mintdb::{BadRow, BurnRow, Feed, KeysetRow, MintDb, MintRow, RowStream};
use crate::state::{Changes, KnownKeyset, OutEvent, State};
use crate::telemetry as m;

/// Positions below every real one: nothing read yet.
const START: i64 = i64::MIN;

/// Keys published at positions inside a feed's re-read window, so a re-read row is skipped.
#[derive(Default)]
struct Window {
    keys: HashSet<[u8; 33]>,
    by_pos: BTreeMap<i64, Vec<[u8; 33]>>,
}

impl Window {
    fn insert(&mut self, key: [u8; 33], pos: i64) {
        if self.keys.insert(key) {
            self.by_pos.entry(pos).or_default().push(key);
        }
    }

    /// Forgets keys below `floor`: rows there are never read again.
    fn prune(&mut self, floor: i64) {
        let kept = self.by_pos.split_off(&floor);
        for keys in std::mem::replace(&mut self.by_pos, kept).into_values() {
            for k in keys {
                self.keys.remove(&k);
            }
        }
    }
}

/// Counters the lag monitor reads.
#[derive(Debug)]
pub struct FeedProgress {
    /// Rows of the mint's database not yet stored in the outbox (as of the cycle's start).
    pub unstored_rows: AtomicI64,
    /// Unix time of the oldest row read but not yet stored, or `i64::MAX`.
    pub oldest_unstored: AtomicI64,
}

impl Default for FeedProgress {
    fn default() -> Self {
        FeedProgress {
            unstored_rows: AtomicI64::new(0),
            oldest_unstored: AtomicI64::new(i64::MAX),
        }
    }
}

/// The entries of the event being filled, with what storing it changes.
struct Pending {
    batch: Batch,
    keys: Vec<(Feed, Vec<u8>, i64)>,
    /// Highest position per feed among the entries.
    wm: HashMap<Feed, i64>,
    oldest: Option<i64>,
    /// The cycle's pending floor (see [`read_floor`]).
    pending_floor: Option<i64>,
}

/// The feed: the mint's database in, signed events into the outbox.
pub struct Publisher {
    db: Arc<MintDb>,
    state: State,
    keys: Keys,
    content_budget: usize,
    keysets: HashMap<String, KnownKeyset>,
    totals: HashMap<(String, u64), (u64, u64)>,
    wm: HashMap<Feed, i64>,
    windows: HashMap<Feed, Window>,
    head: Option<String>,
    heads_1337: HashMap<String, String>,
    last_4919_created: i64,
    last_1337_created: i64,
    published: i64,
    latest: watch::Sender<i64>,
    progress: Arc<FeedProgress>,
}

fn now() -> i64 {
    i64::try_from(Timestamp::now().as_secs()).unwrap_or(i64::MAX)
}

fn meta_i64(meta: &HashMap<String, String>, key: &str, default: i64) -> i64 {
    meta.get(key)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn wm_key(feed: Feed) -> String {
    format!("wm_{}", feed.as_str())
}

impl Publisher {
    /// Loads the feed's position from the state.
    pub async fn load(
        db: Arc<MintDb>,
        state: State,
        keys: Keys,
        max_event_bytes: usize,
        latest: watch::Sender<i64>,
        progress: Arc<FeedProgress>,
    ) -> Result<Self, Error> {
        let meta = state.all_meta().await?;
        let pending_floor = db.pending_burn_floor().await?;
        let mut wm = HashMap::new();
        let mut windows = HashMap::new();
        for feed in [Feed::Burns, Feed::Mints] {
            let mark = meta_i64(&meta, &wm_key(feed), START);
            let mut window = Window::default();
            if mark != START {
                for (key, pos) in state
                    .published_since(feed, read_floor(feed, mark, &db, pending_floor))
                    .await?
                {
                    if let Ok(k) = <[u8; 33]>::try_from(key.as_slice()) {
                        window.insert(k, pos);
                    }
                }
            }
            wm.insert(feed, mark);
            windows.insert(feed, window);
        }
        let heads_1337 = meta
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("head_1337:")?.to_string(), v.clone())))
            .collect();
        let keysets = state
            .keysets()
            .await?
            .into_iter()
            .map(|k| (k.id.clone(), k))
            .collect();
        Ok(Publisher {
            content_budget: max_event_bytes
                .min(MAX_EVENT_JSON_BYTES)
                .saturating_sub(EVENT_OVERHEAD_BYTES),
            totals: state.totals().await?,
            published: state.published_count().await?,
            head: meta.get("head_4919").cloned(),
            heads_1337,
            last_4919_created: meta_i64(&meta, "last_4919_created", 0),
            last_1337_created: meta_i64(&meta, "last_1337_created", 0),
            db,
            state,
            keys,
            keysets,
            wm,
            windows,
            latest,
            progress,
        })
    }

    /// Reads everything new and stores it as events; returns the entries stored.
    pub async fn cycle(&mut self) -> Result<usize, Error> {
        let mint_keysets = self.sync_keysets().await?;
        let rows = self.db.row_count().await?;
        self.progress
            .unstored_rows
            .store((rows - self.published).max(0), Ordering::Relaxed);
        let burn_cut = self.db.max_burn_pos().await?;
        let pending_floor = self.db.pending_burn_floor().await?;
        let mut pending = Pending {
            batch: Batch::new(self.content_budget),
            keys: Vec::new(),
            wm: HashMap::new(),
            oldest: None,
            pending_floor,
        };
        let before = self.published;

        let from = read_floor(Feed::Mints, self.wm[&Feed::Mints], &self.db, pending_floor);
        self.pack(self.db.mints(from), &mut pending).await?;
        let from = read_floor(Feed::Burns, self.wm[&Feed::Burns], &self.db, pending_floor);
        self.pack(self.db.burns(from, burn_cut), &mut pending)
            .await?;
        self.flush(&mut pending).await?;
        self.close_epochs(&mint_keysets).await?;
        for feed in [Feed::Burns, Feed::Mints] {
            // Pending proofs only resolve, and new ones are stamped now: the next cycle's floor
            // is no lower than this one.
            let floor = read_floor(feed, self.wm[&feed], &self.db, pending_floor);
            if let Some(w) = self.windows.get_mut(&feed) {
                w.prune(floor);
            }
        }
        self.progress
            .oldest_unstored
            .store(i64::MAX, Ordering::Relaxed);
        Ok(usize::try_from(self.published - before).unwrap_or(0))
    }

    /// Packs one feed's rows into the pending event, storing it whenever it is full. A row
    /// already published (inside the re-read window) or of an unknown keyset is skipped, a row
    /// that cannot be published is logged and counted.
    async fn pack<T: FeedRow>(
        &mut self,
        mut rows: RowStream<'static, T>,
        pending: &mut Pending,
    ) -> Result<(), Error> {
        while let Some(row) = rows.next().await {
            let row = match row? {
                Ok(r) => r,
                Err(bad) => {
                    bad_row(T::FEED, &bad);
                    continue;
                }
            };
            let key = row.row.key();
            if self.windows[&T::FEED].keys.contains(&key) {
                continue;
            }
            let (pos, time) = row.row.place();
            let Some((unit, epoch)) = self.unit_epoch(&row.keyset, T::FEED, pos) else {
                continue;
            };
            if !row.row.push(&mut pending.batch, &unit, epoch) {
                self.flush(pending).await?;
                // An empty batch takes any one entry.
                row.row.push(&mut pending.batch, &unit, epoch);
            }
            self.note(pending, T::FEED, key, pos, time);
        }
        Ok(())
    }

    /// Records a row added to the pending event.
    fn note(&self, pending: &mut Pending, feed: Feed, key: [u8; 33], pos: i64, time: i64) {
        pending.keys.push((feed, key.to_vec(), pos));
        let mark = pending.wm.entry(feed).or_insert(pos);
        *mark = (*mark).max(pos);
        if pending.oldest.is_none_or(|o| time < o) {
            pending.oldest = Some(time);
        }
        self.progress
            .oldest_unstored
            .fetch_min(time, Ordering::Relaxed);
    }

    /// The unit and epoch of a row's keyset; `None` (logged, counted) if the keyset is unknown.
    fn unit_epoch(&self, keyset: &str, feed: Feed, pos: i64) -> Option<(Unit, Epoch)> {
        let known = self.keysets.get(keyset);
        let parsed =
            known.and_then(|k| Some((Unit::parse(&k.unit).ok()?, Epoch::new(k.epoch).ok()?)));
        if parsed.is_none() {
            bad_row(
                feed,
                &BadRow {
                    pos,
                    why: format!(
                        "keyset {keyset:?} is not in the mint's keysets (or its unit is not valid)"
                    ),
                },
            );
        }
        parsed
    }

    /// Learns new keysets (assigning epochs in the mint's creation order) and returns the mint's
    /// keysets as they are now.
    async fn sync_keysets(&mut self) -> Result<Vec<KeysetRow>, Error> {
        let rows = self.db.keysets().await?;
        let mut next: HashMap<String, u64> = HashMap::new();
        for k in self.keysets.values() {
            let n = next.entry(k.unit.clone()).or_insert(0);
            *n = (*n).max(k.epoch + 1);
        }
        let mut added = Vec::new();
        for row in &rows {
            if self.keysets.contains_key(&row.id) {
                continue;
            }
            let n = next.entry(row.unit.clone()).or_insert(0);
            let known = KnownKeyset {
                id: row.id.clone(),
                unit: row.unit.clone(),
                epoch: *n,
                closed: false,
            };
            *n += 1;
            info!(keyset = %known.id, unit = %known.unit, epoch = known.epoch, active = row.active, "new keyset");
            added.push(known);
        }
        if !added.is_empty() {
            self.state.add_keysets(&added).await?;
            for k in added {
                self.keysets.insert(k.id.clone(), k);
            }
        }
        Ok(rows)
    }

    /// Signs and stores the pending 4919, if it has entries.
    async fn flush(&mut self, pending: &mut Pending) -> Result<(), Error> {
        if pending.batch.is_empty() {
            return Ok(());
        }
        let prev = match &self.head {
            Some(h) => Some(
                EventId::parse(h).map_err(|e| Error::StateContent(format!("head_4919: {e}")))?,
            ),
            None => None,
        };
        let entries = pending.batch.len();
        let (data, sums) = pending.batch.take(prev);
        // After a 1337, every later 4919 is created after it, so the 1337's balance counts
        // exactly the 4919 events created at or before it (PROTOCOL.md §3).
        let created = now()
            .max(self.last_1337_created + 1)
            .max(self.last_4919_created);
        let mut builder = EventBuilder::new(Kind::Custom(CASHU_DATA), data.encode_content())
            .custom_created_at(Timestamp::from(u64::try_from(created).unwrap_or(0)));
        if let Some(h) = &self.head {
            builder = builder
                .tag(Tag::parse(["e", h.as_str()]).map_err(|e| Error::Event(e.to_string()))?);
        }
        let event = builder
            .sign_with_keys(&self.keys)
            .map_err(|e| Error::Event(e.to_string()))?;
        let json = event.as_json();
        if json.len() > MAX_EVENT_JSON_BYTES {
            return Err(Error::Event(format!(
                "a 4919 of {} bytes exceeds the {MAX_EVENT_JSON_BYTES}-byte limit",
                json.len()
            )));
        }
        let id = event.id.to_hex();
        let mut changes = Changes {
            published: std::mem::take(&mut pending.keys),
            meta: vec![
                ("head_4919".to_string(), id.clone()),
                ("last_4919_created".to_string(), created.to_string()),
            ],
            totals: sums
                .iter()
                .map(|s| {
                    (
                        s.unit.as_str().to_string(),
                        s.epoch.get(),
                        s.minted,
                        s.burnt,
                    )
                })
                .collect(),
            closed: Vec::new(),
            forget_below: Vec::new(),
        };
        let wm_moves: Vec<(Feed, i64)> = pending.wm.drain().collect();
        for (feed, mark) in &wm_moves {
            let mark = (*mark).max(self.wm[feed]);
            changes.meta.push((wm_key(*feed), mark.to_string()));
            // The same floor the window in memory is pruned to below, once this is stored.
            let floor = read_floor(*feed, mark, &self.db, pending.pending_floor);
            changes.forget_below.push((*feed, floor));
        }
        let out = OutEvent {
            id: id.clone(),
            kind: CASHU_DATA,
            created_at: created,
            entries,
            oldest: pending.oldest.take(),
            json,
        };
        let seq = self.state.store(&out, &changes).await?;
        // The state is committed: mirror it in memory.
        let mut counts: HashMap<Feed, u64> = HashMap::new();
        for (feed, key, pos) in &changes.published {
            if let Ok(k) = <[u8; 33]>::try_from(key.as_slice()) {
                if let Some(w) = self.windows.get_mut(feed) {
                    w.insert(k, *pos);
                }
            }
            *counts.entry(*feed).or_default() += 1;
        }
        for (feed, mark) in wm_moves {
            let w = self.wm.entry(feed).or_insert(START);
            *w = (*w).max(mark);
        }
        // Rows are read in position order: those below the new floor are behind this cycle's
        // read and the next one's, so their keys are dropped now, from memory as from the
        // state, not at the end of the cycle (a backfill of a million rows would hold them all).
        for (feed, floor) in &changes.forget_below {
            if let Some(window) = self.windows.get_mut(feed) {
                window.prune(*floor);
            }
        }
        for s in sums {
            let t = self
                .totals
                .entry((s.unit.as_str().to_string(), s.epoch.get()))
                .or_default();
            t.0 = t.0.saturating_add(s.minted);
            t.1 = t.1.saturating_add(s.burnt);
        }
        self.head = Some(id.clone());
        self.last_4919_created = created;
        self.published += i64::try_from(entries).unwrap_or(0);
        self.progress
            .unstored_rows
            .fetch_sub(i64::try_from(entries).unwrap_or(0), Ordering::Relaxed);
        self.progress
            .oldest_unstored
            .store(i64::MAX, Ordering::Relaxed);
        for (feed, n) in counts {
            metrics::counter!(m::ENTRIES_PUBLISHED, "feed" => feed.as_str()).increment(n);
        }
        metrics::counter!(m::EVENTS_STORED, "kind" => "4919").increment(1);
        info!(seq, %id, entries, "4919 stored");
        self.latest.send_replace(seq);
        Ok(())
    }

    /// Stores a 1337 for each keyset the mint has deactivated and whose epoch is not closed yet,
    /// with the outstanding balance published for it (MINT minus BURN).
    async fn close_epochs(&mut self, mint_keysets: &[KeysetRow]) -> Result<(), Error> {
        for row in mint_keysets.iter().filter(|k| !k.active) {
            let Some(known) = self.keysets.get(&row.id).cloned() else {
                continue;
            };
            if known.closed {
                continue;
            }
            let (Ok(unit), Ok(epoch)) = (Unit::parse(&known.unit), Epoch::new(known.epoch)) else {
                continue;
            };
            let (minted, burnt) = self
                .totals
                .get(&(known.unit.clone(), known.epoch))
                .copied()
                .unwrap_or_default();
            let fin = FinEpoch {
                epoch,
                outstanding_balance: minted.saturating_sub(burnt),
                unit,
                prev: None,
            };
            let created = now()
                .max(self.last_4919_created)
                .max(self.last_1337_created);
            let prev = self.heads_1337.get(&known.unit).cloned();
            let mut builder = EventBuilder::new(Kind::Custom(FIN_EPOCH), fin.encode_content_json())
                .custom_created_at(Timestamp::from(u64::try_from(created).unwrap_or(0)));
            if let Some(p) = &prev {
                builder = builder
                    .tag(Tag::parse(["e", p.as_str()]).map_err(|e| Error::Event(e.to_string()))?);
            }
            let event = builder
                .sign_with_keys(&self.keys)
                .map_err(|e| Error::Event(e.to_string()))?;
            let id = event.id.to_hex();
            let changes = Changes {
                meta: vec![
                    (format!("head_1337:{}", known.unit), id.clone()),
                    ("last_1337_created".to_string(), created.to_string()),
                ],
                closed: vec![known.id.clone()],
                ..Changes::default()
            };
            let out = OutEvent {
                id: id.clone(),
                kind: FIN_EPOCH,
                created_at: created,
                entries: 0,
                oldest: None,
                json: event.as_json(),
            };
            let seq = self.state.store(&out, &changes).await?;
            self.heads_1337.insert(known.unit.clone(), id.clone());
            self.last_1337_created = created;
            if let Some(k) = self.keysets.get_mut(&row.id) {
                k.closed = true;
            }
            metrics::counter!(m::EVENTS_STORED, "kind" => "1337").increment(1);
            info!(seq, %id, keyset = %known.id, unit = %known.unit, epoch = known.epoch,
                  outstanding = fin.outstanding_balance, "1337 stored: epoch closed");
            self.latest.send_replace(seq);
        }
        Ok(())
    }
}

/// A row of one feed, as a cycle packs it.
trait FeedRow: Send + 'static {
    /// The feed it belongs to.
    const FEED: Feed;
    /// Its feed position and the unix time the mint stamped on it.
    fn place(&self) -> (i64, i64);
    /// What the re-read window remembers it by (`B_` or `Y`).
    fn key(&self) -> [u8; 33];
    /// Adds its entry to `batch`; false when the batch has no room for it.
    fn push(&self, batch: &mut Batch, unit: &Unit, epoch: Epoch) -> bool;
}

impl FeedRow for MintRow {
    const FEED: Feed = Feed::Mints;
    fn place(&self) -> (i64, i64) {
        (self.pos, self.time)
    }
    fn key(&self) -> [u8; 33] {
        *self.b_.as_bytes()
    }
    fn push(&self, batch: &mut Batch, unit: &Unit, epoch: Epoch) -> bool {
        batch.push_mint(
            unit,
            epoch,
            MintEntry {
                b_: self.b_,
                c_: self.c_,
                amount: self.amount,
            },
        )
    }
}

impl FeedRow for BurnRow {
    const FEED: Feed = Feed::Burns;
    fn place(&self) -> (i64, i64) {
        (self.pos, self.time)
    }
    fn key(&self) -> [u8; 33] {
        *self.y.as_bytes()
    }
    fn push(&self, batch: &mut Batch, unit: &Unit, epoch: Epoch) -> bool {
        batch.push_burn(
            unit,
            epoch,
            BurnEntry {
                y: self.y,
                amount: self.amount,
            },
        )
    }
}

/// Where a feed's next read starts: `overlap` before its watermark (nothing read yet: the
/// beginning).
fn from_pos(mark: i64, overlap: i64) -> i64 {
    if mark == START {
        START
    } else {
        mark.saturating_sub(overlap)
    }
}

/// Where a feed's read starts this cycle: [`from_pos`], and for burns no later than the oldest
/// proof still pending, which keeps its position when it becomes spent.
fn read_floor(feed: Feed, mark: i64, db: &MintDb, pending_floor: Option<i64>) -> i64 {
    let from = from_pos(mark, db.overlap(feed));
    match (feed, pending_floor) {
        (Feed::Burns, Some(pending)) => from.min(pending),
        _ => from,
    }
}

fn bad_row(feed: Feed, bad: &BadRow) {
    metrics::counter!(m::BAD_ROWS, "feed" => feed.as_str()).increment(1);
    error!(feed = feed.as_str(), pos = bad.pos, why = %bad.why, "a row of the mint's database cannot be published");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_forgets_only_below_its_floor() {
        let mut w = Window::default();
        w.insert([1; 33], 10);
        w.insert([2; 33], 20);
        w.insert([3; 33], 20);
        w.insert([1; 33], 30);
        w.prune(20);
        assert!(!w.keys.contains(&[1; 33]));
        assert!(w.keys.contains(&[2; 33]) && w.keys.contains(&[3; 33]));
        assert_eq!(from_pos(START, 120), START);
        assert_eq!(from_pos(1_000, 120), 880);
    }
}
