//! The directory: `mints` rows and their counters, the live announcements (38172, 38173) and
//! identity events (11467), and the profile and identity level derived from them.

use std::collections::{BTreeMap, BTreeSet};

use mintwatch_protocol::broadcast::GroupContents;
use mintwatch_protocol::nip87::AnnouncedMint;
use serde_json::json;
use sqlx::PgConnection;

use super::{lists_mint, subject_mint, winners, Key32};
use crate::batch::{Content, Verified};
use crate::text::{bigint, pg_json, pg_text};
use crate::StoreError;

/// The replaceable rule of [`super::newer`] as the `WHERE` of an upsert whose target is aliased
/// `stored`: a newer event replaces the stored row, and in the same second the lower id does.
/// A macro so each statement stays one literal (`concat!`).
macro_rules! newer_replaces_stored {
    () => {
        "WHERE EXCLUDED.created_at > stored.created_at
            OR (EXCLUDED.created_at = stored.created_at AND EXCLUDED.event_id < stored.event_id)"
    };
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

/// Creates directory rows for mints seen for the first time and moves their counters.
pub(super) async fn upsert_mints(
    conn: &mut PgConnection,
    fresh: &[&Verified],
) -> Result<(), StoreError> {
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
pub(super) async fn upsert_announcements(
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
    let changed: Vec<(Option<Vec<u8>>,)> = sqlx::query_as(concat!(
        "INSERT INTO announcements AS stored
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
         ",
        newer_replaces_stored!(),
        " RETURNING mint"
    ))
    .bind(serde_json::Value::Array(rows))
    .fetch_all(&mut *conn)
    .await?;
    Ok(changed
        .into_iter()
        .filter_map(|(m,)| m.and_then(|m| Key32::try_from(m.as_slice()).ok()))
        .collect())
}

/// The live 11467 per signer. Returns the mints whose identity event changed.
pub(super) async fn upsert_mint_infos(
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
    let changed: Vec<(Vec<u8>,)> = sqlx::query_as(concat!(
        "INSERT INTO mint_infos AS stored
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
         ",
        newer_replaces_stored!(),
        " RETURNING mint"
    ))
    .bind(serde_json::Value::Array(rows))
    .fetch_all(&mut *conn)
    .await?;
    Ok(changed
        .into_iter()
        .filter_map(|(m,)| Key32::try_from(m.as_slice()).ok())
        .collect())
}

/// The live 38173 per (author, d).
pub(super) async fn upsert_fedimints(
    conn: &mut PgConnection,
    fresh: &[&Verified],
) -> Result<(), StoreError> {
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
    sqlx::query(concat!(
        "INSERT INTO fedimint_announcements AS stored
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
         ",
        newer_replaces_stored!()
    ))
    .bind(serde_json::Value::Array(rows))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Re-derives the directory profile and identity level (PROTOCOL.md §1) of `keys` from the live
/// 11467 and 38172 rows. Sources, best first: the mint's own 11467, then its own 38172, then the
/// newest 38172 by anyone naming it. A 11467 whose content key is not its signer makes the level
/// `mismatch` whatever else exists.
pub(super) async fn refresh_profiles(
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
