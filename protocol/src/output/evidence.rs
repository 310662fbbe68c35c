//! NIP-32 evidence label, kind 1985: a finding with the full signed events that prove it, so the
//! label verifies on its own without trusting mintwatch (PROTOCOL.md §3, §5).
//!
//! Tags: `["L", "cashu.mintwatch"]`, `["l", "<finding>", "cashu.mintwatch"]`, `["p", <mint key>]`,
//! one `["e", <id>]` per embedded event, in the order of the content's `events`.
//! Content: `{"finding": ..., "Y"?: ..., "events": [full signed events], "detail"?: ...}`.
//!
//! Verification first checks everything that holds for every finding: the label's own
//! signature, the content, each embedded event's id and signature, the `e` tags against the
//! embedded ids, the `l` tag against the content, the `p` key, and who signed which embedded
//! events. Then a [`FindingRecheck`] decides whether the embedded events' *contents* really show
//! the finding (the same `Y` in two BURN groups, two 4919s naming one previous event, ...).
//! [`verify_evidence_label`] runs [`ProtocolRecheck`], which re-derives the finding with the
//! 4919/1337/11467 parsers, so a label verifies on its own including its finding;
//! [`verify_evidence_label_structure`] skips that step, and [`verify_evidence_label_with`] takes
//! any other re-check.

use serde_json::{Map, Value};

use super::recheck::{FindingRecheck, NoRecheck, ProtocolRecheck, Recheck};
use super::{sign, tag2, BuildError, LABEL_NAMESPACE};
use crate::event::{EventId, SignedEvent, VerifyError};
use crate::findings::FindingKind;
use crate::kinds::{CASHU_DATA, FIN_EPOCH, LABEL, MINT_INFO};
use crate::types::{MintKey, Point};

/// What to publish about one finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// The finding.
    pub finding: FindingKind,
    /// The mint it is about (`p`).
    pub mint: MintKey,
    /// The `Y` involved (required for double-spend and cross-mint collision).
    pub y: Option<Point>,
    /// The signed events that prove it. Duplicates (same id) are embedded once.
    pub events: Vec<SignedEvent>,
    /// Finding-specific figures (totals, epochs, ...), published as is.
    pub detail: Option<Value>,
}

/// A label that passed [`verify_evidence_label`].
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedEvidence {
    /// The label's id.
    pub label_id: EventId,
    /// Who signed the label (the indexer), x-only.
    pub indexer: [u8; 32],
    /// The finding.
    pub finding: FindingKind,
    /// The mint the label is about.
    pub mint: MintKey,
    /// The `Y`, if the content names one.
    pub y: Option<Point>,
    /// The embedded events, each verified (id and signature).
    pub events: Vec<SignedEvent>,
    /// The content's `detail`, if any.
    pub detail: Option<Value>,
    /// What the finding-specific re-check concluded.
    pub recheck: Recheck,
}

/// Why a label does not verify.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvidenceError {
    /// The event is not a kind 1985.
    #[error("not a label: kind {0}")]
    WrongKind(u16),
    /// The label's own id or signature fails.
    #[error("label: {0}")]
    LabelSignature(VerifyError),
    /// A required tag is missing, repeated or malformed.
    #[error("tag {tag}: {why}")]
    Tag {
        /// The tag's name.
        tag: &'static str,
        /// What is wrong.
        why: String,
    },
    /// The content is not the expected JSON.
    #[error("content: {0}")]
    Content(String),
    /// The `l` tag names another finding than the content.
    #[error("l tag says {label}, content says {content}")]
    FindingMismatch {
        /// The finding in the `l` tag.
        label: String,
        /// The finding in the content.
        content: String,
    },
    /// An embedded event's id or signature fails.
    #[error("embedded event {index}: {error}")]
    EmbeddedEvent {
        /// Its position in `events`.
        index: usize,
        /// Why it fails.
        error: VerifyError,
    },
    /// The `e` tags are not exactly the embedded events' ids, in order.
    #[error("e tags do not match the embedded events: {0}")]
    EventTags(String),
    /// The embedded events are not signed by the right keys, or are of the wrong kinds, for the
    /// finding.
    #[error("evidence does not fit the finding: {0}")]
    Authorship(String),
    /// The finding-specific re-check found the contents do not show the finding.
    #[error("re-check failed: {0}")]
    Recheck(String),
}

impl EvidenceError {
    fn tag(tag: &'static str, why: impl Into<String>) -> Self {
        Self::Tag {
            tag,
            why: why.into(),
        }
    }
}

/// Builds the content JSON and tags, signs the label, and refuses to return a label that would
/// not pass [`verify_evidence_label`], finding re-check included (so nothing unverifiable is ever
/// published).
pub fn build_evidence_label(
    keys: &nostr::Keys,
    evidence: &Evidence,
) -> Result<SignedEvent, BuildError> {
    let mut events: Vec<&SignedEvent> = Vec::with_capacity(evidence.events.len());
    for e in &evidence.events {
        if !events.iter().any(|seen| seen.id == e.id) {
            events.push(e);
        }
    }
    let mut content = Map::new();
    content.insert("finding".into(), evidence.finding.as_str().into());
    if let Some(y) = &evidence.y {
        content.insert("Y".into(), y.to_hex().into());
    }
    content.insert(
        "events".into(),
        Value::Array(events.iter().map(|e| e.to_value()).collect()),
    );
    if let Some(detail) = &evidence.detail {
        content.insert("detail".into(), detail.clone());
    }
    let content = serde_json::to_string(&Value::Object(content))
        .map_err(|e| BuildError::Json(e.to_string()))?;

    let mut tags = vec![
        tag2("L", LABEL_NAMESPACE),
        vec![
            "l".into(),
            evidence.finding.as_str().into(),
            LABEL_NAMESPACE.into(),
        ],
        tag2("p", evidence.mint.to_hex()),
    ];
    tags.extend(events.iter().map(|e| tag2("e", e.id.to_hex())));
    let label = sign(keys, LABEL, tags, content)?;
    verify_evidence_label(&label)?;
    Ok(label)
}

/// Verifies a label on its own: the structural checks, then [`ProtocolRecheck`], which derives
/// the finding again from the embedded events' contents. A label that passes has
/// [`Recheck::Confirmed`].
pub fn verify_evidence_label(label: &SignedEvent) -> Result<VerifiedEvidence, EvidenceError> {
    verify_evidence_label_with(label, &ProtocolRecheck)
}

/// Verifies a label with the structural checks only ([`NoRecheck`]): signatures, tags, content
/// shape and authorship, not whether the contents show the finding.
pub fn verify_evidence_label_structure(
    label: &SignedEvent,
) -> Result<VerifiedEvidence, EvidenceError> {
    verify_evidence_label_with(label, &NoRecheck)
}

/// Verifies a label, then runs `recheck` over the verified evidence.
pub fn verify_evidence_label_with(
    label: &SignedEvent,
    recheck: &dyn FindingRecheck,
) -> Result<VerifiedEvidence, EvidenceError> {
    if label.kind != LABEL {
        return Err(EvidenceError::WrongKind(label.kind));
    }
    label.verify().map_err(EvidenceError::LabelSignature)?;

    // Tags.
    if !label
        .tags_named("L")
        .any(|v| v.first().map(String::as_str) == Some(LABEL_NAMESPACE))
    {
        return Err(EvidenceError::tag(
            "L",
            format!("no {LABEL_NAMESPACE} namespace"),
        ));
    }
    let ours: Vec<&[String]> = label
        .tags_named("l")
        .filter(|v| v.get(1).map(String::as_str) == Some(LABEL_NAMESPACE))
        .collect();
    let label_finding = match ours.as_slice() {
        [one] => one.first().cloned().unwrap_or_default(),
        [] => return Err(EvidenceError::tag("l", "missing")),
        _ => return Err(EvidenceError::tag("l", "more than one in our namespace")),
    };
    let p: Vec<&[String]> = label.tags_named("p").collect();
    let mint = match p.as_slice() {
        [one] => {
            let hex = one.first().map(String::as_str).unwrap_or_default();
            if hex.len() != 64 {
                return Err(EvidenceError::tag("p", "expected a 64-hex x-only mint key"));
            }
            MintKey::parse(hex).map_err(|e| EvidenceError::tag("p", e.to_string()))?
        }
        [] => return Err(EvidenceError::tag("p", "missing")),
        _ => return Err(EvidenceError::tag("p", "more than one")),
    };

    // Content.
    let content: Value = serde_json::from_str(&label.content)
        .map_err(|e| EvidenceError::Content(format!("not JSON: {e}")))?;
    let obj = content
        .as_object()
        .ok_or_else(|| EvidenceError::Content("not a JSON object".into()))?;
    let content_finding = obj
        .get("finding")
        .and_then(Value::as_str)
        .ok_or_else(|| EvidenceError::Content("finding: missing or not a string".into()))?;
    if content_finding != label_finding {
        return Err(EvidenceError::FindingMismatch {
            label: label_finding,
            content: content_finding.to_string(),
        });
    }
    let finding: FindingKind = content_finding
        .parse()
        .map_err(|e: crate::ParseError| EvidenceError::Content(e.to_string()))?;
    let y = match obj.get("Y") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            Some(Point::parse(s).map_err(|e| EvidenceError::Content(format!("Y: {e}")))?)
        }
        Some(_) => return Err(EvidenceError::Content("Y: not a string".into())),
    };
    let detail = obj.get("detail").filter(|v| !v.is_null()).cloned();
    let events = obj
        .get("events")
        .and_then(Value::as_array)
        .ok_or_else(|| EvidenceError::Content("events: missing or not an array".into()))?
        .iter()
        .enumerate()
        .map(|(i, v)| {
            SignedEvent::from_value(v)
                .map_err(|e| EvidenceError::Content(format!("events[{i}]: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if events.is_empty() {
        return Err(EvidenceError::Content("events: empty".into()));
    }

    // Embedded events.
    for (index, e) in events.iter().enumerate() {
        e.verify()
            .map_err(|error| EvidenceError::EmbeddedEvent { index, error })?;
    }
    check_event_tags(label, &events)?;
    check_authorship(finding, &mint, y.as_ref(), &events)?;

    let outcome = recheck
        .recheck(finding, &mint, y.as_ref(), &events, detail.as_ref())
        .map_err(EvidenceError::Recheck)?;
    Ok(VerifiedEvidence {
        label_id: label.id,
        indexer: label.pubkey,
        finding,
        mint,
        y,
        events,
        detail,
        recheck: outcome,
    })
}

fn check_event_tags(label: &SignedEvent, events: &[SignedEvent]) -> Result<(), EvidenceError> {
    let tagged = label
        .tags_named("e")
        .map(|v| {
            v.first()
                .ok_or_else(|| EvidenceError::EventTags("an e tag has no value".into()))
                .and_then(|s| {
                    EventId::parse(s).map_err(|e| EvidenceError::EventTags(e.to_string()))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let embedded: Vec<EventId> = events.iter().map(|e| e.id).collect();
    if tagged.len() != embedded.len() {
        return Err(EvidenceError::EventTags(format!(
            "{} e tags for {} embedded events",
            tagged.len(),
            embedded.len()
        )));
    }
    if let Some(i) = (0..tagged.len()).find(|&i| tagged[i] != embedded[i]) {
        return Err(EvidenceError::EventTags(format!(
            "e tag {i} is {}, embedded event {i} is {}",
            tagged[i], embedded[i]
        )));
    }
    for (i, id) in embedded.iter().enumerate() {
        if embedded[..i].contains(id) {
            return Err(EvidenceError::EventTags(format!(
                "event {id} is embedded twice"
            )));
        }
    }
    Ok(())
}

/// The kinds that can prove each finding (PROTOCOL.md §3's evidence column).
fn allowed_kinds(finding: FindingKind) -> &'static [u16] {
    match finding {
        FindingKind::DoubleSpend
        | FindingKind::CrossMintCollision
        | FindingKind::Fork
        | FindingKind::Gap
        | FindingKind::LiabilityInversion => &[CASHU_DATA],
        FindingKind::BalanceMismatch => &[FIN_EPOCH, CASHU_DATA],
        FindingKind::IdentityMismatch => &[MINT_INFO],
    }
}

fn check_authorship(
    finding: FindingKind,
    mint: &MintKey,
    y: Option<&Point>,
    events: &[SignedEvent],
) -> Result<(), EvidenceError> {
    let fail = |why: String| Err(EvidenceError::Authorship(why));
    let kinds = allowed_kinds(finding);
    if let Some((i, e)) = events
        .iter()
        .enumerate()
        .find(|(_, e)| !kinds.contains(&e.kind))
    {
        return fail(format!(
            "event {i} is kind {}, {finding} is proven by kinds {kinds:?}",
            e.kind
        ));
    }
    if matches!(
        finding,
        FindingKind::DoubleSpend | FindingKind::CrossMintCollision
    ) && y.is_none()
    {
        return fail(format!("{finding} names no Y"));
    }
    let by_mint = |e: &SignedEvent| e.pubkey == *mint.as_bytes();
    match finding {
        FindingKind::CrossMintCollision => {
            let mut authors: Vec<[u8; 32]> = events.iter().map(|e| e.pubkey).collect();
            authors.sort_unstable();
            authors.dedup();
            if authors.len() != 2 {
                return fail(format!(
                    "a cross-mint collision needs events by exactly two keys, found {}",
                    authors.len()
                ));
            }
            if !events.iter().any(by_mint) {
                return fail("no event is signed by the mint named in p".into());
            }
        }
        _ => {
            if let Some((i, e)) = events.iter().enumerate().find(|(_, e)| !by_mint(e)) {
                return fail(format!(
                    "event {i} is signed by {}, not by the mint {mint}",
                    e.pubkey_hex()
                ));
            }
            if finding == FindingKind::Fork && events.len() < 2 {
                return fail("a fork needs two events".into());
            }
            if finding == FindingKind::BalanceMismatch
                && !events.iter().any(|e| e.kind == FIN_EPOCH)
            {
                return fail("a balance mismatch needs the 1337".into());
            }
        }
    }
    Ok(())
}
