//! Reviews (38000) and deletions (5), and the NIP-09 rule that applies them.

use std::collections::BTreeSet;

use sqlx::PgConnection;

use super::copy::BinaryCopy;
use super::Key32;
use crate::batch::{Content, Verified};
use crate::text::{bigint, pg_text, review_target_text};
use crate::StoreError;

/// Stores new reviews and deletions, then applies every stored deletion to the reviews of the
/// authors involved, whichever arrived first. Returns the mints whose reviews changed.
pub(super) async fn insert_reviews_and_deletions(
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
