//! The `events` rows of a batch (binary `COPY`, or `INSERT ... ON CONFLICT` when some are
//! stored already) and the (event, relay) sightings.

use std::collections::{HashMap, HashSet};

use mintwatch_protocol::EventId;
use sqlx::PgConnection;

use super::copy::{send_piece, BinaryCopy};
use super::{subject_mint, Key32};
use crate::batch::{StoreBatch, Verified};
use crate::records;
use crate::text::bigint;
use crate::StoreError;

/// Inserts the batch's events and returns the ids that were new. The common case, every event
/// new (ingest dedups against memory and the store before verifying), is one binary `COPY`
/// inside a savepoint; if some event is already stored (a second indexer, or a batch retried
/// after a commit that did succeed) the `COPY` fails on the primary key, the savepoint is rolled
/// back and the events go through `INSERT ... ON CONFLICT DO NOTHING RETURNING id` instead.
pub(super) async fn insert_events(
    conn: &mut PgConnection,
    events: &[&Verified],
) -> Result<HashSet<EventId>, StoreError> {
    if events.is_empty() {
        return Ok(HashSet::new());
    }
    sqlx::query("SAVEPOINT events_copy")
        .execute(&mut *conn)
        .await?;
    match copy_events(conn, events).await {
        Ok(()) => {
            sqlx::query("RELEASE SAVEPOINT events_copy")
                .execute(&mut *conn)
                .await?;
            Ok(events.iter().map(|v| v.event.id).collect())
        }
        Err(StoreError::Database(e))
            if e.as_database_error()
                .is_some_and(|d| d.code().as_deref() == Some(UNIQUE_VIOLATION)) =>
        {
            sqlx::query("ROLLBACK TO SAVEPOINT events_copy")
                .execute(&mut *conn)
                .await?;
            insert_new_events(conn, events).await
        }
        Err(e) => Err(e),
    }
}

/// PostgreSQL's SQLSTATE for a duplicate key.
const UNIQUE_VIOLATION: &str = "23505";

/// Writes `events` rows with a binary `COPY` (fails if any id is already stored). The rows are
/// sent in pieces of [`COPY_CHUNK_BYTES`] as they are encoded, so a batch of large events (4919s
/// of ≈ 320 KB each) is not held a second time as one `COPY` body.
async fn copy_events(conn: &mut PgConnection, events: &[&Verified]) -> Result<(), StoreError> {
    let mut copy = conn
        .copy_in_raw(
            "COPY events (id, pubkey, kind, created_at, json, mint, first_relay)
             FROM STDIN (FORMAT binary)",
        )
        .await?;
    let mut rows = BinaryCopy::with_capacity(1, COPY_CHUNK_BYTES);
    for v in events {
        rows.row(7);
        rows.field(&v.event.id.0);
        rows.field(&v.event.pubkey);
        rows.field(&i32::from(v.event.kind).to_be_bytes());
        rows.field(&bigint(v.event.created_at).to_be_bytes());
        rows.field(v.json.as_bytes());
        rows.optional_field(subject_mint(v).as_ref().map(|k| &k[..]));
        rows.field(v.relay.as_bytes());
        if rows.buf.len() >= COPY_CHUNK_BYTES {
            let piece = std::mem::replace(&mut rows.buf, Vec::with_capacity(COPY_CHUNK_BYTES));
            copy = send_piece(copy, piece).await?;
        }
    }
    rows.end();
    send_piece(copy, rows.buf).await?.finish().await?;
    Ok(())
}

/// How much `COPY` data [`copy_events`] encodes before sending it.
const COPY_CHUNK_BYTES: usize = 1 << 20;

/// The `INSERT` path of [`insert_events`]: returns the ids that were not stored yet.
async fn insert_new_events(
    conn: &mut PgConnection,
    events: &[&Verified],
) -> Result<HashSet<EventId>, StoreError> {
    let n = events.len();
    let (mut ids, mut pubkeys, mut kinds_, mut created, mut jsons, mut mints, mut relays) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for v in events {
        ids.push(v.event.id.0.to_vec());
        pubkeys.push(v.event.pubkey.to_vec());
        kinds_.push(i32::from(v.event.kind));
        created.push(bigint(v.event.created_at));
        jsons.push(&*v.json);
        mints.push(subject_mint(v).map(|k| k.to_vec()));
        relays.push(&*v.relay);
    }
    let rows: Vec<(Vec<u8>,)> = sqlx::query_as(
        "INSERT INTO events (id, pubkey, kind, created_at, json, mint, first_relay)
         SELECT * FROM UNNEST($1::bytea[], $2::bytea[], $3::int[], $4::bigint[], $5::text[],
                              $6::bytea[], $7::text[])
         ON CONFLICT (id) DO NOTHING
         RETURNING id",
    )
    .bind(ids)
    .bind(pubkeys)
    .bind(kinds_)
    .bind(created)
    .bind(jsons)
    .bind(mints)
    .bind(relays)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(id,)| records::event_id(&id, "events.id"))
        .collect()
}

/// (event, relay) sightings of the batch beyond each event's first relay, which `events`
/// already holds (`first_relay`): only other relays get an `event_relays` row. Returns how many
/// sightings were new, first ones included, and the mints of events that gained a relay (events
/// new in this batch are not among them: the caller counts their mints already).
///
/// The sightings of events new in this batch cannot exist yet, so they go in with a binary
/// `COPY`; only the others need the conflict check.
pub(super) async fn insert_sightings(
    conn: &mut PgConnection,
    batch: &StoreBatch,
    fresh: &[&Verified],
) -> Result<(u64, Vec<Key32>), StoreError> {
    // The copies stored in this batch, with the relay `events` records as first.
    let first_relay: HashMap<EventId, &str> =
        fresh.iter().map(|v| (v.event.id, &*v.relay)).collect();
    let mut pairs: HashSet<(&str, EventId)> = HashSet::new();
    for v in &batch.events {
        pairs.insert((&v.relay, v.event.id));
    }
    for (relay, id) in &batch.seen_again {
        pairs.insert((relay, *id));
    }
    let (fresh, pairs): (Vec<_>, Vec<_>) = pairs
        .into_iter()
        .partition(|(_, id)| first_relay.contains_key(id));
    let fresh_count = fresh.len() as u64;
    let others: Vec<_> = fresh
        .into_iter()
        .filter(|(relay, id)| first_relay.get(id) != Some(relay))
        .collect();
    if !others.is_empty() {
        let mut copy = BinaryCopy::with_capacity(others.len(), 120);
        for (relay, id) in &others {
            copy.row(2);
            copy.field(&id.0);
            copy.field(relay.as_bytes());
        }
        copy.send(
            conn,
            "COPY event_relays (event_id, relay) FROM STDIN (FORMAT binary)",
        )
        .await?;
    }
    if pairs.is_empty() {
        return Ok((fresh_count, vec![]));
    }
    let (ids, relays): (Vec<Vec<u8>>, Vec<&str>) =
        pairs.into_iter().map(|(r, id)| (id.0.to_vec(), r)).unzip();
    let rows: Vec<(i64, Option<Vec<Vec<u8>>>)> = sqlx::query_as(
        "WITH ins AS (
             INSERT INTO event_relays (event_id, relay)
             SELECT u.id, u.relay FROM UNNEST($1::bytea[], $2::text[]) AS u(id, relay)
             WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = u.id AND e.first_relay = u.relay)
             ON CONFLICT DO NOTHING
             RETURNING event_id
         )
         SELECT (SELECT count(*) FROM ins),
                (SELECT array_agg(DISTINCT e.mint) FROM ins JOIN events e ON e.id = ins.event_id
                 WHERE e.mint IS NOT NULL)",
    )
    .bind(ids)
    .bind(relays)
    .fetch_all(&mut *conn)
    .await?;
    let (count, mints) = rows.into_iter().next().unwrap_or((0, None));
    Ok((
        fresh_count + u64::try_from(count).unwrap_or(0),
        mints
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| Key32::try_from(m.as_slice()).ok())
            .collect(),
    ))
}
