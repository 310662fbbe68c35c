//! Findings: recorded (or refreshed) by the analyze stage, resolved when later events answer them.

use mintwatch_protocol::EventId;
use serde_json::json;

use crate::records::NewFinding;
use crate::text::{bigint, pg_json, pg_text};
use crate::{Store, StoreError};

impl Store {
    /// Records findings; one with the same (mint, kind, key) as a stored one replaces its
    /// evidence and detail (and reopens it if it was resolved). Returns how many rows were
    /// written.
    pub async fn upsert_findings(&self, findings: &[NewFinding]) -> Result<u64, StoreError> {
        let mut conn = self.pool.acquire().await?;
        upsert_findings_in(&mut conn, findings).await
    }
}

/// [`Store::upsert_findings`] on `conn` (inside a caller's transaction).
pub(crate) async fn upsert_findings_in(
    conn: &mut sqlx::PgConnection,
    findings: &[NewFinding],
) -> Result<u64, StoreError> {
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
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
