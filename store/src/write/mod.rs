//! [`Store::write_batch`]: one transaction per batch, one statement per table: binary `COPY` for
//! the rows that cannot exist yet (events, burns, issued signatures, reviews, first sightings),
//! array-bound upserts for the rest.
//!
//! Idempotence: `events` is written first, by `COPY` when every id is new and otherwise with
//! `ON CONFLICT DO NOTHING RETURNING id`, and every typed row (burns, issued signatures, chain
//! links, announcements, reviews, statistics, ...) is written only for the ids that were new. A batch written twice therefore adds no rows
//! and no statistics the second time; sightings and cursors are upserts, so they converge too.
//! Refusal counters are the one additive exception: they count deliveries, so a batch committed
//! twice counts its refusals twice (only possible if a caller retries a commit that in fact
//! succeeded; the numbers are diagnostics, not evidence).

mod cashu;
mod copy;
mod directory;
mod events;
mod relays;
mod reviews;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Instant;

use mintwatch_protocol::nip87::AnnouncedMint;
use mintwatch_protocol::EventId;
use sqlx::PgConnection;

use crate::analysis_queue::{self, BatchChanges};
use crate::batch::{Content, StoreBatch, Verified};
use crate::records::{self, BatchOutcome};
use crate::{Store, StoreError};

pub(super) type Key32 = [u8; 32];

/// The mint an event is about, as stored in `events.mint`: the signer of a mint's own kinds, the
/// key a 38172's `d` names, the key a review's target names.
pub(super) fn subject_mint(v: &Verified) -> Option<Key32> {
    match &v.content {
        Content::CashuData(_) | Content::FinEpoch(_) | Content::MintInfo(_) => Some(v.event.pubkey),
        Content::MintAnnouncement(a) => match &a.mint {
            AnnouncedMint::Key(k) => Some(*k.as_bytes()),
            AnnouncedMint::Opaque(_) => None,
        },
        Content::Recommendation(r) => r.target_mint.map(|k| *k.as_bytes()),
        Content::FedimintAnnouncement(_) | Content::Deletion(_) => None,
    }
}

/// Whether the event puts its mint in the directory (reviews of a key do not: anyone could
/// invent keys to review).
pub(super) fn lists_mint(v: &Verified) -> bool {
    matches!(
        v.content,
        Content::CashuData(_)
            | Content::FinEpoch(_)
            | Content::MintInfo(_)
            | Content::MintAnnouncement(_)
    )
}

/// Whether `(created_at, id)` beats `(other_created_at, other_id)` for a replaceable slot:
/// newer wins; on a tie the lowest id wins (NIP-01).
pub(super) fn newer(
    created_at: u64,
    id: &EventId,
    other_created_at: u64,
    other_id: &EventId,
) -> bool {
    created_at > other_created_at || (created_at == other_created_at && id.0 < other_id.0)
}

/// Keeps, per slot, the event that wins the replaceable rule; the statement that writes the
/// winners compares them with the stored row, because one statement may not touch a row twice.
/// Slots come out in key order: every upsert of a batch locks rows in a fixed order, so two
/// writers touching the same rows wait for each other instead of deadlocking.
pub(super) fn winners<'a, K: Ord>(
    items: impl Iterator<Item = (K, &'a Verified)>,
) -> Vec<&'a Verified> {
    let mut best: BTreeMap<K, &'a Verified> = BTreeMap::new();
    for (slot, v) in items {
        match best.get(&slot) {
            Some(cur)
                if !newer(
                    v.event.created_at,
                    &v.event.id,
                    cur.event.created_at,
                    &cur.event.id,
                ) => {}
            _ => {
                best.insert(slot, v);
            }
        }
    }
    best.into_values().collect()
}

impl Store {
    /// Commits one batch in one transaction and says what changed.
    ///
    /// Writes the new events verbatim, their typed rows, the (event, relay) sightings, the
    /// cursors and the refusal counters — all or nothing: if any statement fails, nothing of the
    /// batch remains, the cursor included, so the batch is fetched again. Idempotent: a batch
    /// written twice adds no rows the second time (refusal counters excepted, see the module
    /// docs). Within a batch, the first copy of an event id wins; cursors for the same
    /// (relay, filter) are applied in order, so the last one is stored.
    pub async fn write_batch(&self, batch: &StoreBatch) -> Result<BatchOutcome, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !self.durable_commits {
            sqlx::query("SET LOCAL synchronous_commit = off")
                .execute(&mut *tx)
                .await?;
        }
        crate::lock_mints(&mut tx).await?;
        let outcome = write_in(&mut tx, batch).await?;
        let t = Instant::now();
        tx.commit().await?;
        phase("commit", t);
        Ok(outcome)
    }
}

/// Records how long one part of a batch's write took (`mintwatch_store_phase_seconds`).
pub(super) fn phase(name: &'static str, started: Instant) {
    metrics::histogram!("mintwatch_store_phase_seconds", "phase" => name)
        .record(started.elapsed().as_secs_f64());
}

async fn write_in(conn: &mut PgConnection, batch: &StoreBatch) -> Result<BatchOutcome, StoreError> {
    let mut outcome = BatchOutcome::default();

    // The first copy of each id in the batch is the one stored (its relay is the first relay).
    let mut seen: HashSet<EventId> = HashSet::with_capacity(batch.events.len());
    let unique: Vec<&Verified> = batch
        .events
        .iter()
        .filter(|v| seen.insert(v.event.id))
        .collect();

    let t = Instant::now();
    let inserted = events::insert_events(conn, &unique).await?;
    phase("events", t);
    let fresh: Vec<&Verified> = unique
        .into_iter()
        .filter(|v| inserted.contains(&v.event.id))
        .collect();
    outcome.new_events = fresh.iter().map(|v| v.event.id).collect();

    let mut changed: BTreeSet<Key32> = fresh.iter().filter_map(|v| subject_mint(v)).collect();

    let t = Instant::now();
    let (burns, issued) = cashu::insert_cashu_data(conn, &fresh).await?;
    phase("cashu_data", t);
    let t = Instant::now();
    outcome.burns = burns;
    outcome.issued = issued;
    cashu::insert_fin_epochs(conn, &fresh).await?;
    directory::upsert_mints(conn, &fresh).await?;
    phase("mints", t);

    let t = Instant::now();
    let mut profile_changed: BTreeSet<Key32> = BTreeSet::new();
    profile_changed.extend(directory::upsert_announcements(conn, &fresh).await?);
    profile_changed.extend(directory::upsert_mint_infos(conn, &fresh).await?);
    directory::upsert_fedimints(conn, &fresh).await?;
    directory::refresh_profiles(conn, &profile_changed).await?;
    changed.extend(profile_changed);
    phase("profiles", t);

    let t = Instant::now();
    changed.extend(reviews::insert_reviews_and_deletions(conn, &fresh).await?);
    phase("reviews", t);

    let t = Instant::now();
    let (new_sightings, sighted_mints) = events::insert_sightings(conn, batch, &fresh).await?;
    outcome.new_sightings = new_sightings;
    changed.extend(sighted_mints);
    phase("sightings", t);

    let t = Instant::now();
    relays::add_counters(conn, batch).await?;
    relays::upsert_cursors(conn, batch).await?;
    phase("cursors", t);

    outcome.changed_mints = changed
        .into_iter()
        .map(|k| records::mint_key(&k, "events.mint"))
        .collect::<Result<_, _>>()?;

    // The batch's analysis is queued in its own transaction: committed together or not at all.
    let t = Instant::now();
    outcome.changes = BatchChanges::of(&fresh, &outcome.changed_mints);
    outcome.queued = analysis_queue::enqueue(conn, &outcome.new_events, &outcome.changes).await?;
    phase("analysis_queue", t);
    Ok(outcome)
}
