//! The NIP-44 encrypted query service (PROTOCOL.md §5), on the NIP-47 pattern so a wallet needs
//! no HTTP:
//!
//! - kind 18172 service info: content = space-separated method names, `["encryption", "nip44_v2"]`;
//! - kind 28172 request: `["p", <service>]`, content = NIP-44 v2 of `{"method", "params"}`;
//! - kind 28173 response: `["p", <requester>]`, `["e", <request id>]`, content = NIP-44 v2 of
//!   `{"result_type", "result", "error"}`.
//!
//! [`DirectoryQuery`] is the directory search, shared with the HTTP API (it deserialises from
//! JSON and from a URL query string alike).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::nip44::{self, ConversationKey};
use super::{sign, tag2, BuildError};
use crate::error::{ParseError, Reason};
use crate::event::{EventId, SignedEvent, VerifyError};
use crate::kinds::{MAX_EVENT_JSON_BYTES, SERVICE_INFO, SERVICE_REQUEST, SERVICE_RESPONSE};
use crate::types::{IdentityLevel, MintKey, Network, Point, Unit};

/// The value of the service info's `encryption` tag.
pub const ENCRYPTION: &str = "nip44_v2";
/// The most `Y`s one `check_spent` may ask about.
pub const MAX_CHECK_SPENT_YS: usize = 1_000;

/// A query service method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Which of these `Y`s are burnt, and by which 4919 events.
    CheckSpent,
    /// One mint's report.
    GetMint,
    /// The directory search.
    SearchMints,
    /// One mint's evidence labels.
    GetEvidence,
}

impl Method {
    /// Every method, in the order of PROTOCOL.md §5.
    pub const ALL: [Method; 4] = [
        Method::CheckSpent,
        Method::GetMint,
        Method::SearchMints,
        Method::GetEvidence,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::CheckSpent => "check_spent",
            Method::GetMint => "get_mint",
            Method::SearchMints => "search_mints",
            Method::GetEvidence => "get_evidence",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| ParseError::malformed("method", format!("unknown method {s:?}")))
    }
}

/// A service error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// The requester is over its rate.
    RateLimited,
    /// The mint (or other subject) is unknown.
    NotFound,
    /// The request could not be decrypted, or its JSON or parameters are bad.
    BadRequest,
    /// The service failed; the message does not leak internals.
    Internal,
    /// The method is not served.
    NotImplemented,
}

/// A service error: a code and a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ServiceError {
    /// The code.
    pub code: ErrorCode,
    /// What went wrong, for humans.
    pub message: String,
}

impl ServiceError {
    /// A new error.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// A `BAD_REQUEST`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
}

// Serde adapters for the crate's parsing types, which carry no serde impls of their own.
fn de_parse<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = ParseError>,
{
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

fn de_parse_opt<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = ParseError>,
{
    Option::<String>::deserialize(d)?
        .map(|s| s.parse().map_err(serde::de::Error::custom))
        .transpose()
}

fn ser_display<S: Serializer, T: fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn ser_display_opt<S: Serializer, T: fmt::Display>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

fn de_points<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Point>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Point::parse(s).map_err(|e| serde::de::Error::custom(e.within(&format!("Ys[{i}]"))))
        })
        .collect()
}

fn ser_points<S: Serializer>(v: &[Point], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(Point::to_hex))
}

fn de_network_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Network>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|s| match Network::from_tag(&s) {
            Network::Unknown if !s.trim().eq_ignore_ascii_case("unknown") => Err(
                serde::de::Error::custom(format!("network: unknown network {s:?}")),
            ),
            n => Ok(n),
        })
        .transpose()
}

fn ser_network_opt<S: Serializer>(v: &Option<Network>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(n) => s.serialize_str(n.as_str()),
        None => s.serialize_none(),
    }
}

/// `check_spent` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckSpent {
    /// The `Y`s asked about, 1..=1,000.
    #[serde(
        rename = "Ys",
        serialize_with = "ser_points",
        deserialize_with = "de_points"
    )]
    pub ys: Vec<Point>,
    /// Only this mint's burns, if given.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_display_opt",
        deserialize_with = "de_parse_opt"
    )]
    pub mint: Option<MintKey>,
}

/// Parameters naming one mint (`get_mint`, `get_evidence`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MintParam {
    /// The mint.
    #[serde(serialize_with = "ser_display", deserialize_with = "de_parse")]
    pub mint: MintKey,
}

/// Directory sort order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    /// Highest rank first.
    #[default]
    Rank,
    /// Most reviews first.
    Reviews,
    /// Most recently active first.
    Activity,
    /// By name, A to Z.
    Name,
}

/// The directory search (`search_mints`, and the HTTP API's directory endpoint).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DirectoryQuery {
    /// Free text over names, descriptions and URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// Only mints supporting this unit.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_display_opt",
        deserialize_with = "de_parse_opt"
    )]
    pub unit: Option<Unit>,
    /// Only mints supporting this NUT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nut: Option<u16>,
    /// Only mints on this network.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_network_opt",
        deserialize_with = "de_network_opt"
    )]
    pub network: Option<Network>,
    /// Only mints at this identity level.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_display_opt",
        deserialize_with = "de_parse_opt"
    )]
    pub identity: Option<IdentityLevel>,
    /// Only mints ranked at least this, 0..=100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_rank: Option<u8>,
    /// Only mints with unresolved findings (`true`) or without any (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_findings: Option<bool>,
    /// Sort order (default: rank).
    #[serde(default)]
    pub sort: Sort,
    /// Page size, 1..=200 (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u16>,
    /// The opaque cursor of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl DirectoryQuery {
    /// Page size when none is given.
    pub const DEFAULT_LIMIT: u16 = 50;
    /// Largest page size.
    pub const MAX_LIMIT: u16 = 200;
    /// Longest free-text query, in bytes.
    pub const MAX_Q_LEN: usize = 256;
    /// Longest cursor, in bytes.
    pub const MAX_CURSOR_LEN: usize = 512;

    /// The page size to use.
    pub fn effective_limit(&self) -> u16 {
        self.limit.unwrap_or(Self::DEFAULT_LIMIT)
    }

    /// Checks the ranges serde cannot express.
    pub fn validate(&self) -> Result<(), ParseError> {
        if let Some(l) = self.limit {
            if l == 0 || l > Self::MAX_LIMIT {
                return Err(ParseError::new(
                    "limit",
                    Reason::OutOfRange(format!("{l} is not in 1..={}", Self::MAX_LIMIT)),
                ));
            }
        }
        if let Some(r) = self.min_rank {
            if r > 100 {
                return Err(ParseError::new(
                    "min_rank",
                    Reason::OutOfRange(format!("{r} is above 100")),
                ));
            }
        }
        if self.q.as_ref().is_some_and(|q| q.len() > Self::MAX_Q_LEN) {
            return Err(ParseError::new(
                "q",
                Reason::TooLarge {
                    limit: Self::MAX_Q_LEN,
                    found: self.q.as_ref().map_or(0, String::len),
                },
            ));
        }
        if self
            .cursor
            .as_ref()
            .is_some_and(|c| c.len() > Self::MAX_CURSOR_LEN)
        {
            return Err(ParseError::new(
                "cursor",
                Reason::TooLarge {
                    limit: Self::MAX_CURSOR_LEN,
                    found: self.cursor.as_ref().map_or(0, String::len),
                },
            ));
        }
        Ok(())
    }
}

/// A request: a method and its parameters. On the wire `{"method": ..., "params": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", content = "params", rename_all = "snake_case")]
pub enum Query {
    /// `check_spent`.
    CheckSpent(CheckSpent),
    /// `get_mint`.
    GetMint(MintParam),
    /// `search_mints`.
    SearchMints(DirectoryQuery),
    /// `get_evidence`.
    GetEvidence(MintParam),
}

impl Query {
    /// The method.
    pub fn method(&self) -> Method {
        match self {
            Query::CheckSpent(_) => Method::CheckSpent,
            Query::GetMint(_) => Method::GetMint,
            Query::SearchMints(_) => Method::SearchMints,
            Query::GetEvidence(_) => Method::GetEvidence,
        }
    }

    /// Checks the ranges serde cannot express.
    pub fn validate(&self) -> Result<(), ParseError> {
        match self {
            Query::CheckSpent(c) => {
                if c.ys.is_empty() || c.ys.len() > MAX_CHECK_SPENT_YS {
                    return Err(ParseError::new(
                        "Ys",
                        Reason::OutOfRange(format!(
                            "{} Ys, expected 1..={MAX_CHECK_SPENT_YS}",
                            c.ys.len()
                        )),
                    ));
                }
                Ok(())
            }
            Query::SearchMints(d) => d.validate(),
            Query::GetMint(_) | Query::GetEvidence(_) => Ok(()),
        }
    }

    /// Reads a decrypted request body. Unknown methods are `NOT_IMPLEMENTED`; anything else
    /// wrong is `BAD_REQUEST`, with a message naming the problem.
    pub fn from_json(json: &str) -> Result<Self, ServiceError> {
        let value: Value = serde_json::from_str(json)
            .map_err(|e| ServiceError::bad_request(format!("request is not JSON: {e}")))?;
        let method = value
            .get("method")
            .and_then(Value::as_str)
            .ok_or_else(|| ServiceError::bad_request("request has no method"))?
            .to_string();
        if method.parse::<Method>().is_err() {
            return Err(ServiceError::new(
                ErrorCode::NotImplemented,
                format!("unknown method {method:?}"),
            ));
        }
        let query: Query = serde_json::from_value(value)
            .map_err(|e| ServiceError::bad_request(format!("bad params for {method}: {e}")))?;
        query
            .validate()
            .map_err(|e| ServiceError::bad_request(format!("bad params for {method}: {e}")))?;
        Ok(query)
    }
}

/// A response body. On the wire `{"result_type", "result", "error"}`, with `null`s kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// The method answered; `null` when the request could not be read far enough to know it.
    pub result_type: Option<Method>,
    /// The result, or `null` on error.
    pub result: Option<Value>,
    /// The error, or `null` on success.
    pub error: Option<ServiceError>,
}

impl Response {
    /// A successful response.
    pub fn ok(method: Method, result: Value) -> Self {
        Self {
            result_type: Some(method),
            result: Some(result),
            error: None,
        }
    }

    /// An error response.
    pub fn err(method: Option<Method>, error: ServiceError) -> Self {
        Self {
            result_type: method,
            result: None,
            error: Some(error),
        }
    }
}

/// One `Y`'s answer in a `check_spent` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpentStatus {
    /// The `Y`.
    #[serde(
        rename = "Y",
        serialize_with = "ser_display",
        deserialize_with = "de_parse"
    )]
    pub y: Point,
    /// Whether a mint-signed 4919 burns it.
    pub burnt: bool,
    /// The ids (hex) of the mint-signed 4919 events that contain it.
    pub events: Vec<String>,
}

/// The `check_spent` result: one [`SpentStatus`] per `Y` asked, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckSpentResult {
    /// The answers.
    pub results: Vec<SpentStatus>,
}

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
        vec![tag2("encryption", ENCRYPTION)],
        content,
    )
}

/// Reads a kind 18172: the methods served (unknown names skipped). Refuses a service that does
/// not announce `nip44_v2`. Checks shape only; verify the signature first.
pub fn parse_service_info(event: &SignedEvent) -> Result<Vec<Method>, ParseError> {
    if event.kind != SERVICE_INFO {
        return Err(ParseError::new(
            "kind",
            Reason::WrongKind {
                expected: SERVICE_INFO,
                found: event.kind,
            },
        ));
    }
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
