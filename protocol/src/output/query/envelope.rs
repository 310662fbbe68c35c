//! The events that carry the service: the kind 18172 service info, and the kind 28172 request
//! and 28173 response, NIP-44 v2 encrypted between the wallet's and the service's keys; built,
//! signed, checked and opened.

use super::request::{Method, Query, MAX_CHECK_SPENT_YS};
use super::response::{Response, ServiceError, MAX_ANSWER_PLAINTEXT};
use crate::error::ParseError;
use crate::event::{EventId, SignedEvent, VerifyError};
use crate::kinds::{MAX_EVENT_JSON_BYTES, SERVICE_INFO, SERVICE_REQUEST, SERVICE_RESPONSE};
use crate::output::nip44::{self, ConversationKey};
use crate::output::{sign, tag2, BuildError};

/// The value of the service info's `encryption` tag.
pub const ENCRYPTION: &str = "nip44_v2";

/// Why a response (or a request addressed to someone else) cannot be opened.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OpenError {
    /// The event is of another kind.
    #[error("wrong kind {found}, expected {expected}")]
    WrongKind {
        /// The kind expected.
        expected: u16,
        /// The kind found.
        found: u16,
    },
    /// The event's id or signature fails.
    #[error("event: {0}")]
    Signature(VerifyError),
    /// A tag is missing or malformed, or the event is addressed to someone else.
    #[error("tag {0}")]
    Tag(String),
    /// The content does not decrypt with our key.
    #[error("decryption: {0}")]
    Decrypt(nip44::Nip44Error),
    /// The decrypted content is not a response.
    #[error("content: {0}")]
    Content(String),
}

/// What [`open_response`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenedResponse {
    /// The service that answered.
    pub service: nostr::PublicKey,
    /// The request it answers (`e`).
    pub request: EventId,
    /// The response body.
    pub response: Response,
}

/// Signs the kind 18172 service info for these methods.
pub fn build_service_info(
    keys: &nostr::Keys,
    methods: &[Method],
) -> Result<SignedEvent, BuildError> {
    let content = methods
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    sign(
        keys,
        SERVICE_INFO,
        vec![
            tag2("encryption", ENCRYPTION),
            // What a wallet must stay within, and what it will receive at most.
            tag2("max_ys", MAX_CHECK_SPENT_YS.to_string()),
            tag2("max_plaintext", MAX_ANSWER_PLAINTEXT.to_string()),
        ],
        content,
    )
}

/// Reads a kind 18172: the methods served (unknown names skipped). Refuses a service that does
/// not announce `nip44_v2`. Checks shape only; verify the signature first.
pub fn parse_service_info(event: &SignedEvent) -> Result<Vec<Method>, ParseError> {
    event.expect_kind(SERVICE_INFO)?;
    let nip44 = event.tags_named("encryption").any(|v| {
        v.first()
            .is_some_and(|s| s.split_whitespace().any(|e| e == ENCRYPTION))
    });
    if !nip44 {
        return Err(ParseError::malformed(
            "encryption",
            "nip44_v2 is not offered",
        ));
    }
    Ok(event
        .content
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect())
}

fn x_only(bytes: &[u8; 32], field: &str) -> Result<nostr::PublicKey, ParseError> {
    nostr::PublicKey::from_slice(bytes).map_err(|e| ParseError::malformed(field, e.to_string()))
}

/// Encrypts a request to the service and signs it with the wallet's keys (kind 28172).
pub fn build_request(
    wallet: &nostr::Keys,
    service: &nostr::PublicKey,
    query: &Query,
) -> Result<SignedEvent, BuildError> {
    query.validate()?;
    let body = serde_json::to_string(query).map_err(|e| BuildError::Json(e.to_string()))?;
    let ck = ConversationKey::from_keys(wallet, service)?;
    let content = nip44::encrypt(&ck, body.as_bytes())?;
    sign(
        wallet,
        SERVICE_REQUEST,
        vec![tag2("p", service.to_hex())],
        content,
    )
}

/// Opens a request with the service's keys: the requester's key and the query.
///
/// Every failure is a [`ServiceError`] to send back: `BAD_REQUEST` for a wrong kind, a bad
/// signature, a request addressed to another service, an undecryptable content, or bad JSON or
/// parameters; `NOT_IMPLEMENTED` for an unknown method. Answer it with [`Response::err`] and
/// [`build_response`] (the requester is the request's `pubkey`). Never panics on input.
pub fn open_request(
    service: &nostr::Keys,
    request: &SignedEvent,
) -> Result<(nostr::PublicKey, Query), ServiceError> {
    if request.kind != SERVICE_REQUEST {
        return Err(ServiceError::bad_request(format!(
            "kind {} is not a request ({SERVICE_REQUEST})",
            request.kind
        )));
    }
    request
        .verify()
        .map_err(|e| ServiceError::bad_request(format!("request event: {e}")))?;
    let ours = service.public_key().to_hex();
    if request.tag_value("p") != Some(ours.as_str()) {
        return Err(ServiceError::bad_request(
            "request is not addressed to this service (p tag)",
        ));
    }
    if request.content.len() > MAX_EVENT_JSON_BYTES {
        return Err(ServiceError::bad_request("request content is too large"));
    }
    let requester = x_only(&request.pubkey, "pubkey")
        .map_err(|_| ServiceError::bad_request("requester key is not a valid x-only key"))?;
    let ck = ConversationKey::from_keys(service, &requester)
        .map_err(|e| ServiceError::bad_request(format!("cannot derive the shared key: {e}")))?;
    let body = nip44::decrypt(&ck, &request.content).map_err(|e| {
        ServiceError::bad_request(format!("content is not NIP-44 v2 to this service: {e}"))
    })?;
    Ok((requester, Query::from_json(&body)?))
}

/// Encrypts a response to the request's author and signs it with the service's keys
/// (kind 28173, `p` = requester, `e` = request id).
pub fn build_response(
    service: &nostr::Keys,
    request: &SignedEvent,
    response: &Response,
) -> Result<SignedEvent, BuildError> {
    let requester = x_only(&request.pubkey, "pubkey")?;
    let body = serde_json::to_string(response).map_err(|e| BuildError::Json(e.to_string()))?;
    let ck = ConversationKey::from_keys(service, &requester)?;
    let content = nip44::encrypt(&ck, body.as_bytes())?;
    sign(
        service,
        SERVICE_RESPONSE,
        vec![
            tag2("p", requester.to_hex()),
            tag2("e", request.id.to_hex()),
        ],
        content,
    )
}

/// Opens a response with the wallet's keys: checks kind, signature and `p`, decrypts, parses.
/// The caller matches [`OpenedResponse::request`] against the request it sent and
/// [`OpenedResponse::service`] against the service it asked.
pub fn open_response(
    wallet: &nostr::Keys,
    response: &SignedEvent,
) -> Result<OpenedResponse, OpenError> {
    if response.kind != SERVICE_RESPONSE {
        return Err(OpenError::WrongKind {
            expected: SERVICE_RESPONSE,
            found: response.kind,
        });
    }
    response.verify().map_err(OpenError::Signature)?;
    let ours = wallet.public_key().to_hex();
    if response.tag_value("p") != Some(ours.as_str()) {
        return Err(OpenError::Tag("p: not addressed to this key".into()));
    }
    let request = response
        .tag_value("e")
        .ok_or_else(|| OpenError::Tag("e: missing".into()))
        .and_then(|s| EventId::parse(s).map_err(|e| OpenError::Tag(format!("e: {e}"))))?;
    let service = x_only(&response.pubkey, "pubkey").map_err(|e| OpenError::Tag(e.to_string()))?;
    let ck = ConversationKey::from_keys(wallet, &service).map_err(OpenError::Decrypt)?;
    let body = nip44::decrypt(&ck, &response.content).map_err(OpenError::Decrypt)?;
    let response: Response =
        serde_json::from_str(&body).map_err(|e| OpenError::Content(e.to_string()))?;
    if response.result.is_some() && response.error.is_some() {
        return Err(OpenError::Content("both result and error are set".into()));
    }
    Ok(OpenedResponse {
        service,
        request,
        response,
    })
}
