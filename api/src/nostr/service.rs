//! The query service's answers (PROTOCOL.md §5): a kind 28172 request in, the [`Response`] to
//! encrypt into a kind 28173 out. Every request gets an answer: one that cannot be decrypted or
//! read gets `BAD_REQUEST`, an unknown method `NOT_IMPLEMENTED`, a store failure `INTERNAL`
//! (logged here, never described to the requester).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::warn;

use mintwatch_protocol::output::{
    build_evidence_label, open_request, ErrorCode, Query, Response, ServiceError,
    MAX_ANSWER_PLAINTEXT,
};
use mintwatch_protocol::{MintKey, SignedEvent};
use mintwatch_store::{Store, StoreError};

use super::reports;
use crate::read::ReadError;

/// At most this many bytes of labels go into one `get_evidence` answer (a page); the findings
/// after it are on the next page (`next`), and the whole answer is then cut to
/// [`MAX_ANSWER_PLAINTEXT`] as a last resort (see [`fit_evidence`]).
pub const EVIDENCE_BUDGET_BYTES: usize = 56 * 1024;

/// Open findings read for one `get_evidence` page at most.
const EVIDENCE_PAGE_FINDINGS: usize = 500;

/// Bytes of the answer around the `get_evidence` result (`{"result_type":…,"error":null}`).
const ANSWER_ENVELOPE_BYTES: usize = 128;

/// A finding whose label is not in a `get_evidence` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OmittedFinding {
    /// The finding name.
    pub finding: String,
    /// The proving events (hex ids).
    pub events: Vec<String>,
    /// Why the label is not included.
    pub reason: String,
}

/// The `get_evidence` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceResult {
    /// The mint, x-only hex.
    pub mint: String,
    /// One kind 1985 label per unresolved finding, each verifying on its own.
    pub labels: Vec<Value>,
    /// Findings whose label did not fit (or could not be built).
    pub omitted: Vec<OmittedFinding>,
    /// Findings not listed at all, to keep the answer under 65,408 bytes (a last resort: pages
    /// are sized to fit); the HTTP API (`GET /v1/mints/{mint_key}/findings`) lists every one.
    #[serde(default)]
    pub not_listed: u64,
    /// The `offset` of the next page: the open findings from there on are not in this answer.
    /// Absent when this answer reaches the last open finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<u64>,
}

/// The first value of every `name` tag of an event in JSON.
fn tag_values(event: &Value, name: &str) -> Vec<String> {
    let Some(tags) = event.get("tags").and_then(Value::as_array) else {
        return Vec::new();
    };
    tags.iter()
        .filter_map(|t| match t.as_array()?.as_slice() {
            [n, v, ..] if n.as_str() == Some(name) => v.as_str().map(String::from),
            _ => None,
        })
        .collect()
}

/// Cuts `result` until its JSON fits in `limit` bytes: labels become omitted findings (last
/// first), then omitted findings are counted in `not_listed` instead of listed. Linear in the
/// number of findings: the size is kept up to date, not measured again each step.
pub fn fit_evidence(result: &mut EvidenceResult, limit: usize) {
    // Room for `not_listed` to grow to 20 digits.
    let mut size = serde_json::to_string(&*result).map_or(usize::MAX, |j| j.len()) + 20;
    while size > limit {
        if let Some(label) = result.labels.pop() {
            size = size.saturating_sub(listed_len(&label));
            // A kind 1985 label: ["l", <finding>, "cashu.mintwatch"], one ["e", <id>] per event.
            let omitted = OmittedFinding {
                finding: tag_values(&label, "l")
                    .into_iter()
                    .next()
                    .unwrap_or_default(),
                events: tag_values(&label, "e"),
                reason: "over this answer's size budget".to_string(),
            };
            size += listed_len(&omitted);
            result.omitted.insert(0, omitted);
        } else if let Some(omitted) = result.omitted.pop() {
            size = size.saturating_sub(listed_len(&omitted));
            result.not_listed += 1;
        } else {
            return;
        }
    }
}

/// The length of a value's JSON in a list, with its comma.
fn listed_len<T: Serialize>(value: &T) -> usize {
    serde_json::to_string(value).map_or(0, |j| j.len()) + 1
}

/// Answers requests from the store, signing with the indexer's keys.
#[derive(Clone)]
pub struct QueryService {
    store: Store,
    keys: nostr::Keys,
    /// Bytes of labels in one `get_evidence` page ([`EVIDENCE_BUDGET_BYTES`]).
    evidence_page_bytes: usize,
}

fn internal(e: impl std::fmt::Display) -> ServiceError {
    warn!(error = %e, "query service: internal error");
    ServiceError::new(ErrorCode::Internal, "internal error")
}

fn to_value<T: Serialize>(v: &T) -> Result<Value, ServiceError> {
    serde_json::to_value(v).map_err(internal)
}

impl QueryService {
    /// A service over `store`, answering as `keys`.
    pub fn new(store: Store, keys: nostr::Keys) -> Self {
        Self {
            store,
            keys,
            evidence_page_bytes: EVIDENCE_BUDGET_BYTES,
        }
    }

    /// The same service with `get_evidence` pages of at most `bytes` of labels (each page
    /// still carries at least one label): small pages for tests.
    pub fn with_evidence_page_bytes(mut self, bytes: usize) -> Self {
        self.evidence_page_bytes = bytes.min(EVIDENCE_BUDGET_BYTES);
        self
    }

    /// The response to one request event (not yet encrypted).
    pub async fn answer(&self, request: &SignedEvent) -> Response {
        match open_request(&self.keys, request) {
            Err(e) => Response::err(None, e),
            Ok((_, query)) => {
                let method = query.method();
                match self.handle(query).await {
                    Ok(v) => Response::ok(method, v),
                    Err(e) => Response::err(Some(method), e),
                }
            }
        }
    }

    /// Runs one decrypted, validated query.
    pub async fn handle(&self, query: Query) -> Result<Value, ServiceError> {
        match query {
            Query::CheckSpent(q) => to_value(
                &reports::check_spent(&self.store, &q)
                    .await
                    .map_err(internal)?,
            ),
            Query::GetMint(p) => match reports::mint_report(&self.store, &p.mint)
                .await
                .map_err(internal)?
            {
                Some(r) => to_value(&r),
                None => Err(not_found(&p.mint)),
            },
            Query::SearchMints(q) => match reports::search_mints(&self.store, &q).await {
                Ok(page) => to_value(&page),
                Err(ReadError::BadCursor(why) | ReadError::Invalid(why)) => {
                    Err(ServiceError::bad_request(why))
                }
                Err(e @ (ReadError::Store(_) | ReadError::Merged(_))) => Err(internal(e)),
            },
            Query::GetEvidence(p) => {
                to_value(&self.evidence(&p.mint, p.offset.unwrap_or(0)).await?)
            }
        }
    }

    async fn evidence(&self, mint: &MintKey, offset: u64) -> Result<EvidenceResult, ServiceError> {
        if !self.store.mint_exists(mint).await.map_err(internal)? {
            return Err(not_found(mint));
        }
        let mut result = evidence_labels(
            &self.store,
            &self.keys,
            mint,
            offset,
            self.evidence_page_bytes,
        )
        .await
        .map_err(internal)?;
        fit_evidence(&mut result, MAX_ANSWER_PLAINTEXT - ANSWER_ENVELOPE_BYTES);
        Ok(result)
    }
}

fn not_found(mint: &MintKey) -> ServiceError {
    ServiceError::new(ErrorCode::NotFound, format!("mint {mint} is not known"))
}

/// Builds the labels of the unresolved findings of `mint` from the `offset`-th on, until the
/// next label would pass `budget` bytes of labels (a page holds at least one label, so pages
/// always advance); `next` says where the following page starts. A finding whose label cannot
/// be built is listed under `omitted` with the reason.
pub async fn evidence_labels(
    store: &Store,
    keys: &nostr::Keys,
    mint: &MintKey,
    offset: u64,
    budget: usize,
) -> Result<EvidenceResult, StoreError> {
    let findings = reports::open_findings(store, Some(mint)).await?;
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(findings.len());
    let page = &findings[start..findings.len().min(start + EVIDENCE_PAGE_FINDINGS)];
    let ids: Vec<_> = page
        .iter()
        .flat_map(|f| f.event_ids.iter().copied())
        .collect();
    let events = reports::events_by_id(store, &ids).await?;
    let mut out = EvidenceResult {
        mint: mint.to_hex(),
        labels: Vec::new(),
        omitted: Vec::new(),
        not_listed: 0,
        next: None,
    };
    let mut used = 0usize;
    let mut end = start + page.len();
    for (i, f) in page.iter().enumerate() {
        let label = reports::evidence_of(f, &events)
            .and_then(|e| build_evidence_label(keys, &e).map_err(|e| e.to_string()));
        match label {
            Ok(label) => {
                let json = label.to_json();
                if used + json.len() > budget && !out.labels.is_empty() {
                    end = start + i;
                    break;
                }
                used += json.len();
                out.labels.push(label.to_value());
            }
            Err(why) => {
                warn!(mint = %mint, finding = %f.kind, %why, "evidence label not built");
                out.omitted.push(OmittedFinding {
                    finding: f.kind.as_str().to_string(),
                    events: f.event_ids.iter().map(|i| i.to_hex()).collect(),
                    reason: format!("label not built: {why}"),
                });
            }
        }
    }
    if end < findings.len() {
        out.next = Some(end as u64);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn label(i: usize) -> Value {
        serde_json::json!({
            "kind": 1985,
            "tags": [["L", "cashu.mintwatch"], ["l", "double-spend", "cashu.mintwatch"],
                     ["e", format!("{i:064x}")], ["e", format!("{:064x}", i + 1)]],
            "content": "x".repeat(3_000),
        })
    }

    #[test]
    fn evidence_is_cut_to_fit_labels_first_then_listings_counted() {
        let mut result = EvidenceResult {
            mint: "ab".repeat(32),
            labels: (0..40).map(label).collect(),
            omitted: (0..2_000)
                .map(|i| OmittedFinding {
                    finding: "gap".to_string(),
                    events: vec![format!("{i:064x}")],
                    reason: "over this answer's size budget".to_string(),
                })
                .collect(),
            not_listed: 0,
            next: None,
        };
        let before = result.labels.len() + result.omitted.len();
        fit_evidence(&mut result, MAX_ANSWER_PLAINTEXT - ANSWER_ENVELOPE_BYTES);
        let json = serde_json::to_string(&result).unwrap();
        assert!(json.len() <= MAX_ANSWER_PLAINTEXT - ANSWER_ENVELOPE_BYTES);
        // Nothing vanishes: each finding is a label, listed, or counted.
        assert_eq!(
            result.labels.len() + result.omitted.len() + result.not_listed as usize,
            before
        );
        assert!(result.labels.is_empty(), "labels go before listings");
        assert!(result.not_listed > 0);
        // A label turned listing keeps its finding and its events.
        let small = &mut EvidenceResult {
            mint: "ab".repeat(32),
            labels: (0..30).map(label).collect(),
            omitted: Vec::new(),
            not_listed: 0,
            next: None,
        };
        fit_evidence(small, MAX_ANSWER_PLAINTEXT - ANSWER_ENVELOPE_BYTES);
        assert!(!small.labels.is_empty() && !small.omitted.is_empty());
        assert_eq!(small.not_listed, 0);
        let first_cut = &small.omitted[0];
        assert_eq!(first_cut.finding, "double-spend");
        assert_eq!(first_cut.events.len(), 2);
    }
}
