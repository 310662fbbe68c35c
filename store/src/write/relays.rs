//! Per-relay state of a batch: refusal counters and crawl cursors.

use std::collections::BTreeMap;

use sqlx::PgConnection;

use crate::batch::{Cursor, StoreBatch};
use crate::text::bigint;
use crate::StoreError;

pub(super) async fn add_counters(
    conn: &mut PgConnection,
    batch: &StoreBatch,
) -> Result<(), StoreError> {
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

pub(super) async fn upsert_cursors(
    conn: &mut PgConnection,
    batch: &StoreBatch,
) -> Result<(), StoreError> {
    // Later cursors of one (relay, filter) supersede earlier ones in the same batch.
    let mut last: BTreeMap<(&str, &str), &Cursor> = BTreeMap::new();
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
