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

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Instant;

use mintwatch_protocol::broadcast::GroupContents;
use mintwatch_protocol::nip87::AnnouncedMint;
use mintwatch_protocol::{EventId, MintKey};
use serde_json::json;
use sqlx::postgres::PgCopyIn;
use sqlx::PgConnection;

use super::records::{self, BatchOutcome, NewFinding};
use super::text::{bigint, pg_json, pg_text, review_target_text};
use super::{Store, StoreError};
use crate::pipeline::{Content, StoreBatch, Verified};

type Key32 = [u8; 32];

/// A burns row: Y, mint, event, position, amount, unit, epoch.
type BurnRow<'a> = ([u8; 33], Key32, Key32, i32, i64, &'a str, i64);

/// The mint an event is about, as stored in `events.mint`: the signer of a mint's own kinds, the
/// key a 38172's `d` names, the key a review's target names.
fn subject_mint(v: &Verified) -> Option<Key32> {
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
fn lists_mint(v: &Verified) -> bool {
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
fn newer(created_at: u64, id: &EventId, other_created_at: u64, other_id: &EventId) -> bool {
    created_at > other_created_at || (created_at == other_created_at && id.0 < other_id.0)
}

/// Keeps, per slot, the event that wins the replaceable rule; the statement that writes the
/// winners compares them with the stored row, because one statement may not touch a row twice.
/// Slots come out in key order: every upsert of a batch locks rows in a fixed order, so two
/// writers touching the same rows wait for each other instead of deadlocking.
fn winners<'a, K: Ord>(items: impl Iterator<Item = (K, &'a Verified)>) -> Vec<&'a Verified> {
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

#[derive(Default)]
struct MintTotals {
    first_seen: u64,
    last_seen: u64,
    /// Newest event signed by the mint key itself.
    last_active: Option<u64>,
    events: i64,
    burns: i64,
    issued: i64,
}

#[derive(Default)]
struct StatTotals {
    burn_count: i64,
    burn_amount: u128,
    mint_count: i64,
    mint_amount: u128,
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
        super::lock_mints(&mut tx).await?;
        let outcome = write_in(&mut tx, batch).await?;
        let t = Instant::now();
        tx.commit().await?;
        phase("commit", t);
        Ok(outcome)
    }

    /// Records findings; one with the same (mint, kind, key) as a stored one replaces its
    /// evidence and detail (and reopens it if it was resolved). Returns how many rows were
    /// written.
    pub async fn upsert_findings(&self, findings: &[NewFinding]) -> Result<u64, StoreError> {
        if findings.is_empty() {
            return Ok(0);
        }
        let rows: Vec<serde_json::Value> = findings
            .iter()
            .map(|f| {
                let mut ids: Vec<String> = f.event_ids.iter().map(EventId::to_hex).collect();
                ids.sort_unstable();
                ids.dedup();
                json!({
                    "mint": f.mint.to_hex(),
                    "kind": f.kind.as_str(),
                    "key": pg_text(&f.key),
                    "y": f.y.map(|y| y.to_hex()),
                    "unit": f.unit.as_ref().map(|u| u.as_str()),
                    "epoch": f.epoch.map(|e| bigint(e.get())),
                    "event_ids": ids,
                    "detail": pg_json(&f.detail),
                })
            })
            .collect();
        let done = sqlx::query(
            "INSERT INTO findings (mint, kind, finding_key, y, unit, epoch, event_ids, detail)
             SELECT decode(r.mint, 'hex'), r.kind, r.key, decode(r.y, 'hex'), r.unit, r.epoch,
                    ARRAY(SELECT decode(x, 'hex') FROM jsonb_array_elements_text(r.event_ids) x),
                    r.detail
             FROM jsonb_to_recordset($1) AS r(mint text, kind text, key text, y text, unit text,
                                               epoch bigint, event_ids jsonb, detail jsonb)
             ON CONFLICT (mint, kind, finding_key) DO UPDATE
             SET event_ids = EXCLUDED.event_ids, detail = EXCLUDED.detail, y = EXCLUDED.y,
                 unit = EXCLUDED.unit, epoch = EXCLUDED.epoch, resolved = false,
                 updated_at = now()",
        )
        .bind(serde_json::Value::Array(rows))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Marks a finding resolved (e.g. a gap whose missing event arrived). Returns whether such
    /// a finding existed.
    pub async fn resolve_finding(
        &self,
        mint: &MintKey,
        kind: mintwatch_protocol::FindingKind,
        key: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE findings SET resolved = true, updated_at = now()
             WHERE mint = $1 AND kind = $2 AND finding_key = $3",
        )
        .bind(mint.as_bytes().to_vec())
        .bind(kind.as_str())
        .bind(pg_text(key))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Stores a mint's rank and its components (the analyze stage's output).
    pub async fn set_rank(
        &self,
        mint: &MintKey,
        rank: f32,
        components: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        super::lock_mints(&mut tx).await?;
        sqlx::query(
            "UPDATE mints SET rank = $2, rank_components = $3, ranked_at = now() WHERE key = $1",
        )
        .bind(mint.as_bytes().to_vec())
        .bind(rank)
        .bind(pg_json(components))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Records how long one part of a batch's write took (`mintwatch_store_phase_seconds`).
fn phase(name: &'static str, started: Instant) {
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
    let inserted = insert_events(conn, &unique).await?;
    phase("events", t);
    let fresh: Vec<&Verified> = unique
        .into_iter()
        .filter(|v| inserted.contains(&v.event.id))
        .collect();
    outcome.new_events = fresh.iter().map(|v| v.event.id).collect();

    let mut changed: BTreeSet<Key32> = fresh.iter().filter_map(|v| subject_mint(v)).collect();

    let t = Instant::now();
    let (burns, issued) = insert_cashu_data(conn, &fresh).await?;
    phase("cashu_data", t);
    let t = Instant::now();
    outcome.burns = burns;
    outcome.issued = issued;
    insert_fin_epochs(conn, &fresh).await?;
    upsert_mints(conn, &fresh).await?;
    phase("mints", t);

    let t = Instant::now();
    let mut profile_changed: BTreeSet<Key32> = BTreeSet::new();
    profile_changed.extend(upsert_announcements(conn, &fresh).await?);
    profile_changed.extend(upsert_mint_infos(conn, &fresh).await?);
    upsert_fedimints(conn, &fresh).await?;
    refresh_profiles(conn, &profile_changed).await?;
    changed.extend(profile_changed);
    phase("profiles", t);

    let t = Instant::now();
    changed.extend(insert_reviews_and_deletions(conn, &fresh).await?);
    phase("reviews", t);

    let t = Instant::now();
    let (new_sightings, sighted_mints) = insert_sightings(conn, batch, &fresh).await?;
    outcome.new_sightings = new_sightings;
    changed.extend(sighted_mints);
    phase("sightings", t);

    let t = Instant::now();
    add_counters(conn, batch).await?;
    upsert_cursors(conn, batch).await?;
    phase("cursors", t);

    outcome.changed_mints = changed
        .into_iter()
        .map(|k| records::mint_key(&k, "events.mint"))
        .collect::<Result<_, _>>()?;
    Ok(outcome)
}

/// Inserts the batch's events and returns the ids that were new. The common case, every event
/// new (ingest dedups against memory and the store before verifying), is one binary `COPY`
/// inside a savepoint; if some event is already stored (a second indexer, or a batch retried
/// after a commit that did succeed) the `COPY` fails on the primary key, the savepoint is rolled
/// back and the events go through `INSERT ... ON CONFLICT DO NOTHING RETURNING id` instead.
async fn insert_events(
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

/// The body of a `COPY ... FROM STDIN (FORMAT binary)`: the hot tables (burns and issued
/// signatures, 100k+ rows a second) are written this way, where COPY's lower per-row cost over
/// `INSERT ... SELECT UNNEST` shows.
struct BinaryCopy {
    buf: Vec<u8>,
}

impl BinaryCopy {
    fn with_capacity(rows: usize, row_bytes: usize) -> Self {
        let mut buf: Vec<u8> = Vec::with_capacity(21 + rows * row_bytes);
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags
        buf.extend_from_slice(&0i32.to_be_bytes()); // header extension length
        Self { buf }
    }

    /// Starts a row of `fields` fields.
    fn row(&mut self, fields: i16) {
        self.buf.extend_from_slice(&fields.to_be_bytes());
    }

    /// One field, in the column type's binary form. Fields are at most one event's JSON, which
    /// the protocol caps far below `i32::MAX` bytes.
    fn field(&mut self, bytes: &[u8]) {
        self.buf
            .extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        self.buf.extend_from_slice(bytes);
    }

    /// A field that may be NULL.
    fn optional_field(&mut self, bytes: Option<&[u8]>) {
        match bytes {
            Some(bytes) => self.field(bytes),
            None => self.buf.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }

    /// Ends the rows (the binary format's trailer).
    fn end(&mut self) {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
    }

    /// Sends the rows with `statement` (a `COPY ... FROM STDIN (FORMAT binary)`).
    async fn send(mut self, conn: &mut PgConnection, statement: &str) -> Result<(), StoreError> {
        self.end();
        let copy = send_piece(conn.copy_in_raw(statement).await?, self.buf).await?;
        copy.finish().await?;
        Ok(())
    }
}

/// Sends one piece of a `COPY`'s data. On failure the `COPY` is aborted, so the connection
/// leaves COPY mode (the transaction rolls back either way).
async fn send_piece(
    mut copy: PgCopyIn<&mut PgConnection>,
    piece: Vec<u8>,
) -> Result<PgCopyIn<&mut PgConnection>, StoreError> {
    if let Err(e) = copy.send(piece).await {
        let _ = copy.abort(e.to_string()).await;
        return Err(e.into());
    }
    Ok(copy)
}

/// Writes burns rows with a binary `COPY`.
async fn copy_burns(conn: &mut PgConnection, rows: &[BurnRow<'_>]) -> Result<(), StoreError> {
    let mut copy = BinaryCopy::with_capacity(rows.len(), 160);
    for (y, mint, event, pos, amount, unit, epoch) in rows {
        copy.row(7);
        copy.field(y);
        copy.field(mint);
        copy.field(event);
        copy.field(&pos.to_be_bytes());
        copy.field(&amount.to_be_bytes());
        copy.field(unit.as_bytes());
        copy.field(&epoch.to_be_bytes());
    }
    copy.send(
        conn,
        "COPY burns (y, mint, event_id, pos, amount, unit, epoch) FROM STDIN (FORMAT binary)",
    )
    .await
}

/// Burns, issued signatures, chain links and per-(mint, unit, epoch) statistics of new 4919s.
async fn insert_cashu_data(
    conn: &mut PgConnection,
    fresh: &[&Verified],
) -> Result<(u64, u64), StoreError> {
    let data: Vec<(&Verified, &mintwatch_protocol::broadcast::CashuData)> = fresh
        .iter()
        .filter_map(|v| match &v.content {
            Content::CashuData(d) => Some((*v, d)),
            _ => None,
        })
        .collect();
    if data.is_empty() {
        return Ok((0, 0));
    }

    // Entries of each kind, to size the buffers once.
    let (mut burn_total, mut issued_total) = (0usize, 0usize);
    for g in data.iter().flat_map(|(_, d)| &d.groups) {
        match &g.contents {
            GroupContents::Burn(e) => burn_total += e.len(),
            GroupContents::Mint(e) => issued_total += e.len(),
        }
    }
    // Rows of the burns table, sorted by Y before writing so the Y index is filled leaf by
    // leaf instead of at random (fewer pages touched and logged per batch).
    let mut burn_rows: Vec<BurnRow<'_>> = Vec::with_capacity(burn_total);
    let mut issued_rows = BinaryCopy::with_capacity(issued_total, 220);
    let mut issued: u64 = 0;
    let (mut l_id, mut l_mint, mut l_created, mut l_prev) = (vec![], vec![], vec![], vec![]);
    let mut stats: BTreeMap<(Key32, &str, u64), StatTotals> = BTreeMap::new();
    // The same totals per event: what the balance and liability checks sum and list, without
    // reading every burn of the mint.
    let mut per_event: BTreeMap<(Key32, &str, u64), (Key32, i64, StatTotals)> = BTreeMap::new();

    for (v, d) in &data {
        let mint = v.event.pubkey;
        let id = v.event.id.0;
        l_id.push(id.to_vec());
        l_mint.push(mint.to_vec());
        l_created.push(bigint(v.event.created_at));
        l_prev.push(d.prev.map(|p| p.0.to_vec()));
        let mut pos: i32 = 0;
        for g in &d.groups {
            let unit = g.unit.as_str();
            let epoch = bigint(g.epoch.get());
            let stat = stats.entry((mint, unit, g.epoch.get())).or_default();
            let (_, _, own) = per_event
                .entry((id, unit, g.epoch.get()))
                .or_insert_with(|| (mint, bigint(v.event.created_at), StatTotals::default()));
            match &g.contents {
                GroupContents::Burn(entries) => {
                    for e in entries {
                        burn_rows.push((
                            *e.y.as_bytes(),
                            mint,
                            id,
                            pos,
                            bigint(e.amount.get()),
                            unit,
                            epoch,
                        ));
                        stat.burn_count += 1;
                        stat.burn_amount += u128::from(e.amount.get());
                        own.burn_count += 1;
                        own.burn_amount += u128::from(e.amount.get());
                        pos = pos.saturating_add(1);
                    }
                }
                GroupContents::Mint(entries) => {
                    for e in entries {
                        issued_rows.row(8);
                        issued_rows.field(&mint);
                        issued_rows.field(&id);
                        issued_rows.field(&pos.to_be_bytes());
                        issued_rows.field(e.b_.as_bytes());
                        issued_rows.field(e.c_.as_bytes());
                        issued_rows.field(&bigint(e.amount.get()).to_be_bytes());
                        issued_rows.field(unit.as_bytes());
                        issued_rows.field(&epoch.to_be_bytes());
                        issued += 1;
                        stat.mint_count += 1;
                        stat.mint_amount += u128::from(e.amount.get());
                        own.mint_count += 1;
                        own.mint_amount += u128::from(e.amount.get());
                        pos = pos.saturating_add(1);
                    }
                }
            }
        }
    }
    let burns = burn_rows.len() as u64;

    if !burn_rows.is_empty() {
        burn_rows.sort_unstable_by_key(|row| row.0);
        let t = Instant::now();
        copy_burns(conn, &burn_rows).await?;
        phase("burns", t);
    }
    let t = Instant::now();
    if issued > 0 {
        issued_rows
            .send(
                conn,
                "COPY issued (mint, event_id, pos, b_, c_, amount, unit, epoch)
                 FROM STDIN (FORMAT binary)",
            )
            .await?;
    }
    phase("issued", t);
    sqlx::query(
        "INSERT INTO chain_links (event_id, mint, created_at, prev)
         SELECT * FROM UNNEST($1::bytea[], $2::bytea[], $3::bigint[], $4::bytea[])
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(l_id)
    .bind(l_mint)
    .bind(l_created)
    .bind(l_prev)
    .execute(&mut *conn)
    .await?;

    insert_event_totals(conn, per_event).await?;

    let mut s_mint = Vec::with_capacity(stats.len());
    let mut s_unit = Vec::with_capacity(stats.len());
    let mut s_epoch = Vec::with_capacity(stats.len());
    let mut s_bc = Vec::with_capacity(stats.len());
    let mut s_ba = Vec::with_capacity(stats.len());
    let mut s_mc = Vec::with_capacity(stats.len());
    let mut s_ma = Vec::with_capacity(stats.len());
    for ((mint, unit, epoch), t) in stats {
        s_mint.push(mint.to_vec());
        s_unit.push(unit);
        s_epoch.push(bigint(epoch));
        s_bc.push(t.burn_count);
        s_ba.push(t.burn_amount.to_string());
        s_mc.push(t.mint_count);
        s_ma.push(t.mint_amount.to_string());
    }
    sqlx::query(
        "INSERT INTO mint_stats (mint, unit, epoch, burn_count, burn_amount, mint_count, mint_amount)
         SELECT * FROM UNNEST($1::bytea[], $2::text[], $3::bigint[], $4::bigint[],
                              $5::text[]::numeric[], $6::bigint[], $7::text[]::numeric[])
         ON CONFLICT (mint, unit, epoch) DO UPDATE
         SET burn_count = mint_stats.burn_count + EXCLUDED.burn_count,
             burn_amount = mint_stats.burn_amount + EXCLUDED.burn_amount,
             mint_count = mint_stats.mint_count + EXCLUDED.mint_count,
             mint_amount = mint_stats.mint_amount + EXCLUDED.mint_amount",
    )
    .bind(s_mint)
    .bind(s_unit)
    .bind(s_epoch)
    .bind(s_bc)
    .bind(s_ba)
    .bind(s_mc)
    .bind(s_ma)
    .execute(&mut *conn)
    .await?;
    Ok((burns, issued))
}

/// One row per (new 4919, unit, epoch) with entries: its mint, time and totals.
async fn insert_event_totals(
    conn: &mut PgConnection,
    rows: BTreeMap<(Key32, &str, u64), (Key32, i64, StatTotals)>,
) -> Result<(), StoreError> {
    let (mut id, mut mint, mut unit, mut epoch, mut created) =
        (vec![], vec![], vec![], vec![], vec![]);
    let (mut burnt, mut minted) = (vec![], vec![]);
    for ((e, u, ep), (m, at, t)) in rows {
        if t.burn_count == 0 && t.mint_count == 0 {
            continue;
        }
        id.push(e.to_vec());
        mint.push(m.to_vec());
        unit.push(u);
        epoch.push(bigint(ep));
        created.push(at);
        burnt.push(t.burn_amount.to_string());
        minted.push(t.mint_amount.to_string());
    }
    if id.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO event_totals (mint, unit, epoch, event_id, created_at, burn_amount,
                                   mint_amount)
         SELECT * FROM UNNEST($1::bytea[], $2::text[], $3::bigint[], $4::bytea[], $5::bigint[],
                              $6::text[]::numeric[], $7::text[]::numeric[])
         ON CONFLICT DO NOTHING",
    )
    .bind(mint)
    .bind(unit)
    .bind(epoch)
    .bind(id)
    .bind(created)
    .bind(burnt)
    .bind(minted)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn insert_fin_epochs(conn: &mut PgConnection, fresh: &[&Verified]) -> Result<(), StoreError> {
    let (mut id, mut mint, mut created, mut unit, mut epoch, mut balance, mut prev) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for v in fresh {
        if let Content::FinEpoch(f) = &v.content {
            id.push(v.event.id.0.to_vec());
            mint.push(v.event.pubkey.to_vec());
            created.push(bigint(v.event.created_at));
            unit.push(f.unit.as_str());
            epoch.push(bigint(f.epoch.get()));
            balance.push(f.outstanding_balance.to_string());
            prev.push(f.prev.map(|p| p.0.to_vec()));
        }
    }
    if id.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO fin_epochs (event_id, mint, created_at, unit, epoch, outstanding_balance, prev)
         SELECT * FROM UNNEST($1::bytea[], $2::bytea[], $3::bigint[], $4::text[], $5::bigint[],
                              $6::text[]::numeric[], $7::bytea[])
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(id)
    .bind(mint)
    .bind(created)
    .bind(unit)
    .bind(epoch)
    .bind(balance)
    .bind(prev)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Creates directory rows for mints seen for the first time and moves their counters.
async fn upsert_mints(conn: &mut PgConnection, fresh: &[&Verified]) -> Result<(), StoreError> {
    let mut totals: BTreeMap<Key32, MintTotals> = BTreeMap::new();
    for v in fresh.iter().filter(|v| lists_mint(v)) {
        let Some(key) = subject_mint(v) else { continue };
        let t = totals.entry(key).or_insert_with(|| MintTotals {
            first_seen: v.event.created_at,
            last_seen: v.event.created_at,
            ..MintTotals::default()
        });
        t.first_seen = t.first_seen.min(v.event.created_at);
        t.last_seen = t.last_seen.max(v.event.created_at);
        if v.event.pubkey == key {
            t.last_active = Some(
                t.last_active
                    .map_or(v.event.created_at, |a| a.max(v.event.created_at)),
            );
        }
        t.events += 1;
        if let Content::CashuData(d) = &v.content {
            for g in &d.groups {
                let n = i64::try_from(g.contents.len()).unwrap_or(i64::MAX);
                match g.contents {
                    GroupContents::Burn(_) => t.burns += n,
                    GroupContents::Mint(_) => t.issued += n,
                }
            }
        }
    }
    if totals.is_empty() {
        return Ok(());
    }
    let (mut key, mut first, mut last, mut active, mut events, mut burns, mut issued) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for (k, t) in totals {
        key.push(k.to_vec());
        first.push(bigint(t.first_seen));
        last.push(bigint(t.last_seen));
        active.push(t.last_active.map(bigint));
        events.push(t.events);
        burns.push(t.burns);
        issued.push(t.issued);
    }
    sqlx::query(
        "INSERT INTO mints
             (key, first_seen, last_seen, last_active, event_count, burn_count, mint_count)
         SELECT * FROM UNNEST($1::bytea[], $2::bigint[], $3::bigint[], $4::bigint[],
                              $5::bigint[], $6::bigint[], $7::bigint[])
         ON CONFLICT (key) DO UPDATE
         SET first_seen = LEAST(mints.first_seen, EXCLUDED.first_seen),
             last_seen = GREATEST(mints.last_seen, EXCLUDED.last_seen),
             last_active = GREATEST(mints.last_active, EXCLUDED.last_active),
             event_count = mints.event_count + EXCLUDED.event_count,
             burn_count = mints.burn_count + EXCLUDED.burn_count,
             mint_count = mints.mint_count + EXCLUDED.mint_count,
             updated_at = now()",
    )
    .bind(key)
    .bind(first)
    .bind(last)
    .bind(active)
    .bind(events)
    .bind(burns)
    .bind(issued)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The live 38172 per (author, d). Returns the mints whose announcement changed.
async fn upsert_announcements(
    conn: &mut PgConnection,
    fresh: &[&Verified],
) -> Result<Vec<Key32>, StoreError> {
    let rows: Vec<serde_json::Value> = winners(fresh.iter().filter_map(|v| match &v.content {
        Content::MintAnnouncement(a) => Some(((v.event.pubkey, a.d.clone()), *v)),
        _ => None,
    }))
    .into_iter()
    .filter_map(|v| match &v.content {
        Content::MintAnnouncement(a) => {
            let m = &a.metadata;
            Some(json!({
                "author": hex::encode(v.event.pubkey),
                "d": pg_text(&a.d),
                "event_id": v.event.id.to_hex(),
                "created_at": bigint(v.event.created_at),
                "mint": match &a.mint {
                    AnnouncedMint::Key(k) => Some(k.to_hex()),
                    AnnouncedMint::Opaque(_) => None,
                },
                "urls": a.urls.iter().map(|u| pg_text(u.as_str())).collect::<Vec<_>>(),
                "nuts": a.nuts,
                "network": a.network.map(|n| n.as_str()),
                "name": m.name.as_deref().map(pg_text),
                "description": m.description.as_deref().map(pg_text),
                "metadata": {
                    "icon": m.icon.as_deref().map(pg_text),
                    "motd": m.motd.as_deref().map(pg_text),
                    "version": m.version.as_deref().map(pg_text),
                },
            }))
        }
        _ => None,
    })
    .collect();
    if rows.is_empty() {
        return Ok(vec![]);
    }
    let changed: Vec<(Option<Vec<u8>>,)> = sqlx::query_as(
        "INSERT INTO announcements
             (author, d, event_id, created_at, mint, urls, nuts, network, name, description,
              metadata)
         SELECT decode(r.author, 'hex'), r.d, decode(r.event_id, 'hex'), r.created_at,
                decode(r.mint, 'hex'),
                ARRAY(SELECT jsonb_array_elements_text(r.urls)),
                ARRAY(SELECT x::int FROM jsonb_array_elements_text(r.nuts) x),
                r.network, r.name, r.description, r.metadata
         FROM jsonb_to_recordset($1) AS r(author text, d text, event_id text, created_at bigint,
                                           mint text, urls jsonb, nuts jsonb, network text,
                                           name text, description text, metadata jsonb)
         ON CONFLICT (author, d) DO UPDATE
         SET event_id = EXCLUDED.event_id, created_at = EXCLUDED.created_at,
             mint = EXCLUDED.mint, urls = EXCLUDED.urls, nuts = EXCLUDED.nuts,
             network = EXCLUDED.network, name = EXCLUDED.name,
             description = EXCLUDED.description, metadata = EXCLUDED.metadata
         WHERE EXCLUDED.created_at > announcements.created_at
            OR (EXCLUDED.created_at = announcements.created_at
                AND EXCLUDED.event_id < announcements.event_id)
         RETURNING mint",
    )
    .bind(serde_json::Value::Array(rows))
    .fetch_all(&mut *conn)
    .await?;
    Ok(changed
        .into_iter()
        .filter_map(|(m,)| m.and_then(|m| Key32::try_from(m.as_slice()).ok()))
        .collect())
}

/// The live 11467 per signer. Returns the mints whose identity event changed.
async fn upsert_mint_infos(
    conn: &mut PgConnection,
    fresh: &[&Verified],
) -> Result<Vec<Key32>, StoreError> {
    let rows: Vec<serde_json::Value> = winners(fresh.iter().filter_map(|v| match &v.content {
        Content::MintInfo(_) => Some((v.event.pubkey, *v)),
        _ => None,
    }))
    .into_iter()
    .filter_map(|v| match &v.content {
        Content::MintInfo(i) => Some(json!({
            "mint": hex::encode(v.event.pubkey),
            "event_id": v.event.id.to_hex(),
            "created_at": bigint(v.event.created_at),
            "content_pubkey": i.pubkey.map(|p| p.to_hex()),
            "name": i.name.as_deref().map(pg_text),
            "description": i.description.as_deref().map(pg_text),
            "urls": i.urls.iter().map(|u| pg_text(u.as_str())).collect::<Vec<_>>(),
            "nuts": i.nuts,
            "units": i.units.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
            "raw": pg_json(&i.raw),
        })),
        _ => None,
    })
    .collect();
    if rows.is_empty() {
        return Ok(vec![]);
    }
    let changed: Vec<(Vec<u8>,)> = sqlx::query_as(
        "INSERT INTO mint_infos
             (mint, event_id, created_at, content_pubkey, name, description, urls, nuts, units, raw)
         SELECT decode(r.mint, 'hex'), decode(r.event_id, 'hex'), r.created_at,
                decode(r.content_pubkey, 'hex'), r.name, r.description,
                ARRAY(SELECT jsonb_array_elements_text(r.urls)),
                ARRAY(SELECT x::int FROM jsonb_array_elements_text(r.nuts) x),
                ARRAY(SELECT jsonb_array_elements_text(r.units)),
                r.raw
         FROM jsonb_to_recordset($1) AS r(mint text, event_id text, created_at bigint,
                                           content_pubkey text, name text, description text,
                                           urls jsonb, nuts jsonb, units jsonb, raw jsonb)
         ON CONFLICT (mint) DO UPDATE
         SET event_id = EXCLUDED.event_id, created_at = EXCLUDED.created_at,
             content_pubkey = EXCLUDED.content_pubkey, name = EXCLUDED.name,
             description = EXCLUDED.description, urls = EXCLUDED.urls, nuts = EXCLUDED.nuts,
             units = EXCLUDED.units, raw = EXCLUDED.raw
         WHERE EXCLUDED.created_at > mint_infos.created_at
            OR (EXCLUDED.created_at = mint_infos.created_at
                AND EXCLUDED.event_id < mint_infos.event_id)
         RETURNING mint",
    )
    .bind(serde_json::Value::Array(rows))
    .fetch_all(&mut *conn)
    .await?;
    Ok(changed
        .into_iter()
        .filter_map(|(m,)| Key32::try_from(m.as_slice()).ok())
        .collect())
}

/// The live 38173 per (author, d).
async fn upsert_fedimints(conn: &mut PgConnection, fresh: &[&Verified]) -> Result<(), StoreError> {
    let rows: Vec<serde_json::Value> = winners(fresh.iter().filter_map(|v| match &v.content {
        Content::FedimintAnnouncement(f) => Some(((v.event.pubkey, f.federation_id.clone()), *v)),
        _ => None,
    }))
    .into_iter()
    .filter_map(|v| match &v.content {
        Content::FedimintAnnouncement(f) => Some(json!({
            "author": hex::encode(v.event.pubkey),
            "d": pg_text(&f.federation_id),
            "event_id": v.event.id.to_hex(),
            "created_at": bigint(v.event.created_at),
            "invite_codes": f.invite_codes.iter().map(|s| pg_text(s)).collect::<Vec<_>>(),
            "modules": f.modules.iter().map(|s| pg_text(s)).collect::<Vec<_>>(),
            "network": f.network.map(|n| n.as_str()),
        })),
        _ => None,
    })
    .collect();
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO fedimint_announcements
             (author, d, event_id, created_at, invite_codes, modules, network)
         SELECT decode(r.author, 'hex'), r.d, decode(r.event_id, 'hex'), r.created_at,
                ARRAY(SELECT jsonb_array_elements_text(r.invite_codes)),
                ARRAY(SELECT jsonb_array_elements_text(r.modules)),
                r.network
         FROM jsonb_to_recordset($1) AS r(author text, d text, event_id text, created_at bigint,
                                           invite_codes jsonb, modules jsonb, network text)
         ON CONFLICT (author, d) DO UPDATE
         SET event_id = EXCLUDED.event_id, created_at = EXCLUDED.created_at,
             invite_codes = EXCLUDED.invite_codes, modules = EXCLUDED.modules,
             network = EXCLUDED.network
         WHERE EXCLUDED.created_at > fedimint_announcements.created_at
            OR (EXCLUDED.created_at = fedimint_announcements.created_at
                AND EXCLUDED.event_id < fedimint_announcements.event_id)",
    )
    .bind(serde_json::Value::Array(rows))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Re-derives the directory profile and identity level (PROTOCOL.md §1) of `keys` from the live
/// 11467 and 38172 rows. Sources, best first: the mint's own 11467, then its own 38172, then the
/// newest 38172 by anyone naming it. A 11467 whose content key is not its signer makes the level
/// `mismatch` whatever else exists.
async fn refresh_profiles(
    conn: &mut PgConnection,
    keys: &BTreeSet<Key32>,
) -> Result<(), StoreError> {
    if keys.is_empty() {
        return Ok(());
    }
    let keys: Vec<Vec<u8>> = keys.iter().map(|k| k.to_vec()).collect();
    sqlx::query(
        "UPDATE mints m SET
             name = coalesce(p.info_name, p.ann_name),
             description = coalesce(p.info_description, p.ann_description),
             urls = CASE WHEN cardinality(p.info_urls) > 0 THEN p.info_urls
                         ELSE coalesce(p.ann_urls, '{}') END,
             units = coalesce(p.info_units, '{}'),
             nuts = CASE WHEN cardinality(p.info_nuts) > 0 THEN p.info_nuts
                         ELSE coalesce(p.ann_nuts, '{}') END,
             network = p.ann_network,
             identity = CASE
                 WHEN p.info_pubkey IS NOT NULL AND substring(p.info_pubkey FROM 2) <> m.key
                     THEN 'mismatch'
                 WHEN p.info_pubkey IS NOT NULL OR p.self_announced THEN 'self-signed'
                 WHEN p.announced THEN 'operator'
                 ELSE 'unbound' END,
             updated_at = now()
         FROM (
             SELECT k.key,
                    i.content_pubkey AS info_pubkey, i.name AS info_name,
                    i.description AS info_description, i.urls AS info_urls,
                    i.units AS info_units, i.nuts AS info_nuts,
                    a.name AS ann_name, a.description AS ann_description, a.urls AS ann_urls,
                    a.nuts AS ann_nuts, a.network AS ann_network,
                    EXISTS (SELECT 1 FROM announcements s
                            WHERE s.mint = k.key AND s.author = k.key) AS self_announced,
                    EXISTS (SELECT 1 FROM announcements s WHERE s.mint = k.key) AS announced
             FROM unnest($1::bytea[]) AS k(key)
             LEFT JOIN mint_infos i ON i.mint = k.key
             LEFT JOIN LATERAL (
                 SELECT * FROM announcements s WHERE s.mint = k.key
                 ORDER BY (s.author = k.key) DESC, s.created_at DESC, s.event_id ASC
                 LIMIT 1
             ) a ON true
         ) p
         WHERE m.key = p.key",
    )
    .bind(keys)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Stores new reviews and deletions, then applies every stored deletion to the reviews of the
/// authors involved, whichever arrived first. Returns the mints whose reviews changed.
async fn insert_reviews_and_deletions(
    conn: &mut PgConnection,
    fresh: &[&Verified],
) -> Result<Vec<Key32>, StoreError> {
    let mut changed = Vec::new();
    let mut authors: BTreeSet<Key32> = BTreeSet::new();

    // Reviews of fresh events only, so no row can exist yet: a binary COPY, no conflict check.
    let mut reviews = BinaryCopy::with_capacity(fresh.len(), 400);
    let mut review_count = 0usize;
    let (mut d_id, mut d_author, mut d_created, mut d_target, mut d_coord) =
        (vec![], vec![], vec![], vec![], vec![]);
    for v in fresh {
        match &v.content {
            Content::Recommendation(r) => {
                authors.insert(v.event.pubkey);
                let mint = r.target_mint.map(|k| *k.as_bytes());
                changed.extend(mint);
                reviews.row(9);
                reviews.field(&v.event.id.0);
                reviews.field(&v.event.pubkey);
                reviews.field(pg_text(v.event.tag_value("d").unwrap_or("")).as_bytes());
                reviews.field(&i32::from(r.target_kind).to_be_bytes());
                reviews.field(review_target_text(&r.target).as_bytes());
                reviews.optional_field(mint.as_ref().map(|m| &m[..]));
                reviews.optional_field(r.rating.map(f64::to_be_bytes).as_ref().map(|b| &b[..]));
                reviews.field(pg_text(&r.text).as_bytes());
                reviews.field(&bigint(v.event.created_at).to_be_bytes());
                review_count += 1;
            }
            Content::Deletion(del) => {
                authors.insert(v.event.pubkey);
                for id in &del.event_ids {
                    d_id.push(v.event.id.0.to_vec());
                    d_author.push(v.event.pubkey.to_vec());
                    d_created.push(bigint(v.event.created_at));
                    d_target.push(Some(id.0.to_vec()));
                    d_coord.push(None);
                }
                for c in &del.coordinates {
                    d_id.push(v.event.id.0.to_vec());
                    d_author.push(v.event.pubkey.to_vec());
                    d_created.push(bigint(v.event.created_at));
                    d_target.push(None);
                    d_coord.push(Some(pg_text(c)));
                }
            }
            _ => {}
        }
    }
    if review_count > 0 {
        reviews
            .send(
                conn,
                "COPY reviews
                     (event_id, author, d, target_kind, target, target_mint, rating, text,
                      created_at)
                 FROM STDIN (FORMAT binary)",
            )
            .await?;
    }
    if !d_id.is_empty() {
        sqlx::query(
            "INSERT INTO deletions (deletion_id, author, created_at, target_id, coordinate)
             SELECT * FROM UNNEST($1::bytea[], $2::bytea[], $3::bigint[], $4::bytea[], $5::text[])",
        )
        .bind(d_id)
        .bind(d_author)
        .bind(d_created)
        .bind(d_target)
        .bind(d_coord)
        .execute(&mut *conn)
        .await?;
    }
    if authors.is_empty() {
        return Ok(changed);
    }
    // NIP-09: only the author's own deletions count; an `a` coordinate deletes the versions of
    // that address created up to the deletion. Driven from the (few) deletions of the batch's
    // authors, so the cost follows the deletions, not every stored review of those authors.
    let authors: Vec<Vec<u8>> = authors.iter().map(|a| a.to_vec()).collect();
    let mut deleted: Vec<(Option<Vec<u8>>,)> = sqlx::query_as(
        "UPDATE reviews r SET deleted = true
         FROM deletions d
         WHERE d.author = ANY($1) AND d.target_id IS NOT NULL
           AND r.event_id = d.target_id AND r.author = d.author AND NOT r.deleted
         RETURNING r.target_mint",
    )
    .bind(&authors)
    .fetch_all(&mut *conn)
    .await?;
    deleted.extend(
        sqlx::query_as::<_, (Option<Vec<u8>>,)>(
            "UPDATE reviews r SET deleted = true
             FROM deletions d
             WHERE d.author = ANY($1) AND d.coordinate IS NOT NULL
               AND r.author = d.author AND NOT r.deleted
               AND d.coordinate = '38000:' || encode(r.author, 'hex') || ':' || r.d
               AND d.created_at >= r.created_at
             RETURNING r.target_mint",
        )
        .bind(&authors)
        .fetch_all(&mut *conn)
        .await?,
    );
    changed.extend(
        deleted
            .into_iter()
            .filter_map(|(m,)| m.and_then(|m| Key32::try_from(m.as_slice()).ok())),
    );
    Ok(changed)
}

/// (event, relay) sightings of the batch beyond each event's first relay, which `events`
/// already holds (`first_relay`): only other relays get an `event_relays` row. Returns how many
/// sightings were new, first ones included, and the mints of events that gained a relay (events
/// new in this batch are not among them: the caller counts their mints already).
///
/// The sightings of events new in this batch cannot exist yet, so they go in with a binary
/// `COPY`; only the others need the conflict check.
async fn insert_sightings(
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

async fn add_counters(conn: &mut PgConnection, batch: &StoreBatch) -> Result<(), StoreError> {
    let mut sums: BTreeMap<(&str, &str, i32), i64> = BTreeMap::new();
    for (r, n) in &batch.rejections {
        let kind = r.kind.map_or(-1, i32::from);
        *sums.entry((&r.relay, &r.reason, kind)).or_default() +=
            i64::try_from(*n).unwrap_or(i64::MAX);
    }
    if sums.is_empty() {
        return Ok(());
    }
    let (mut relay, mut reason, mut kind, mut count) = (vec![], vec![], vec![], vec![]);
    for ((r, why, k), n) in sums {
        relay.push(r);
        reason.push(why);
        kind.push(k);
        count.push(n);
    }
    sqlx::query(
        "INSERT INTO relay_counters (relay, reason, kind, count)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::int[], $4::bigint[])
         ON CONFLICT (relay, reason, kind) DO UPDATE
         SET count = relay_counters.count + EXCLUDED.count",
    )
    .bind(relay)
    .bind(reason)
    .bind(kind)
    .bind(count)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn upsert_cursors(conn: &mut PgConnection, batch: &StoreBatch) -> Result<(), StoreError> {
    // Later cursors of one (relay, filter) supersede earlier ones in the same batch.
    let mut last: BTreeMap<(&str, &str), &crate::pipeline::Cursor> = BTreeMap::new();
    for c in &batch.cursors {
        last.insert((&c.relay, &c.filter), c);
    }
    if last.is_empty() {
        return Ok(());
    }
    let (mut relay, mut filter, mut until, mut done, mut newest) =
        (vec![], vec![], vec![], vec![], vec![]);
    for c in last.into_values() {
        relay.push(&*c.relay);
        filter.push(c.filter.as_str());
        until.push(c.backfill_until.map(bigint));
        done.push(c.backfill_done);
        newest.push(c.newest_seen.map(bigint));
    }
    sqlx::query(
        "INSERT INTO relay_cursors (relay, filter, backfill_until, backfill_done, newest_seen)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bool[], $5::bigint[])
         ON CONFLICT (relay, filter) DO UPDATE
         SET backfill_until = EXCLUDED.backfill_until, backfill_done = EXCLUDED.backfill_done,
             newest_seen = EXCLUDED.newest_seen, updated_at = now()",
    )
    .bind(relay)
    .bind(filter)
    .bind(until)
    .bind(done)
    .bind(newest)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
