//! The rows of new 4919 and 1337 events: burns, issued signatures, chain links, per-event and
//! per-(mint, unit, epoch) totals, epoch closes.

use std::collections::BTreeMap;
use std::time::Instant;

use mintwatch_protocol::broadcast::GroupContents;
use sqlx::PgConnection;

use super::copy::BinaryCopy;
use super::{phase, Key32};
use crate::batch::{Content, Verified};
use crate::text::bigint;
use crate::StoreError;

/// A burns row: Y, mint, event, position, amount, unit, epoch.
type BurnRow<'a> = ([u8; 33], Key32, Key32, i32, i64, &'a str, i64);

#[derive(Default)]
struct StatTotals {
    burn_count: i64,
    burn_amount: u128,
    mint_count: i64,
    mint_amount: u128,
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
pub(super) async fn insert_cashu_data(
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

pub(super) async fn insert_fin_epochs(
    conn: &mut PgConnection,
    fresh: &[&Verified],
) -> Result<(), StoreError> {
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
