//! The events of NMC (NMC.md §2): the mint's 17338 service info, a wallet's 27338 request and the
//! mint's 27339 response, NIP-44 v2 encrypted between the wallet's fresh key and the mint key;
//! built, signed, checked and opened, with the request rules of NMC.md §5 that need no state
//! (what to ignore, what to answer with an error). Never panics on input.

use serde_json::Value;

use super::envelope::{NmcError, NmcErrorCode, NmcRequest, NmcResponse, MAX_PLAINTEXT};
use super::methods::NmcMethod;
use crate::error::{ParseError, Reason};
use crate::event::{EventId, SignedEvent, VerifyError};
use crate::kinds::{MAX_EVENT_JSON_BYTES, NMC_INFO, NMC_REQUEST, NMC_RESPONSE};
use crate::output::nip44::{self, ConversationKey};
use crate::output::{sign, tag2, BuildError};

/// The value of the `encryption` tags.
pub const ENCRYPTION: &str = "nip44_v2";
/// The protocol version of the 17338 `v` tag.
pub const VERSION: &str = "1";
/// A request whose `created_at` is further than this from the gateway's clock is ignored, and
/// an answered request's response is kept at least this long (seconds).
pub const MAX_REQUEST_AGE_SECS: u64 = 300;

/// What a 17338 says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NmcInfo {
    /// The methods served (names it does not know skipped).
    pub methods: Vec<NmcMethod>,
    /// The relays it listens on.
    pub relays: Vec<String>,
    /// The mint's HTTPS URL, if it gives one.
    pub url: Option<String>,
}

/// Signs the mint's 17338.
pub fn build_info(mint: &nostr::Keys, info: &NmcInfo) -> Result<SignedEvent, BuildError> {
    let mut tags = vec![tag2("encryption", ENCRYPTION), tag2("v", VERSION)];
    tags.extend(info.relays.iter().map(|r| tag2("relay", r.as_str())));
    if let Some(u) = &info.url {
        tags.push(tag2("u", u.as_str()));
    }
    let content = info
        .methods
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    sign(mint, NMC_INFO, tags, content)
}

/// Reads a 17338 (verify its signature first): refuses one that does not offer `nip44_v2`.
pub fn parse_info(event: &SignedEvent) -> Result<NmcInfo, ParseError> {
    if event.kind != NMC_INFO {
        return Err(ParseError::malformed(
            "kind",
            format!("{} is not {NMC_INFO}", event.kind),
        ));
    }
    if !event
        .tags_named("encryption")
        .any(|v| v.first().is_some_and(|s| s == ENCRYPTION))
    {
        return Err(ParseError::malformed(
            "encryption",
            "nip44_v2 is not offered",
        ));
    }
    Ok(NmcInfo {
        methods: event
            .content
            .split_whitespace()
            .filter_map(|m| m.parse().ok())
            .collect(),
        relays: event
            .tags_named("relay")
            .filter_map(|v| v.first().cloned())
            .collect(),
        url: event.tag_value("u").map(String::from),
    })
}

fn x_only(bytes: &[u8; 32]) -> Option<nostr::PublicKey> {
    nostr::PublicKey::from_slice(bytes).ok()
}

/// Encrypts a request to the mint and signs it with the wallet's (fresh) keys, with a NIP-40
/// `expiration` if given. A plaintext above [`MAX_PLAINTEXT`] is refused: split the call.
pub fn build_request(
    wallet: &nostr::Keys,
    mint: &nostr::PublicKey,
    request: &NmcRequest,
    expiration: Option<u64>,
) -> Result<SignedEvent, BuildError> {
    let body = serde_json::to_string(request).map_err(|e| BuildError::Json(e.to_string()))?;
    if body.len() > MAX_PLAINTEXT {
        return Err(BuildError::Invalid(ParseError::new(
            "content",
            Reason::OutOfRange(format!(
                "{} bytes of request, at most {MAX_PLAINTEXT}",
                body.len()
            )),
        )));
    }
    let ck = ConversationKey::from_keys(wallet, mint)?;
    let content = nip44::encrypt(&ck, body.as_bytes())?;
    let mut tags = vec![tag2("p", mint.to_hex()), tag2("encryption", ENCRYPTION)];
    if let Some(at) = expiration {
        tags.push(tag2("expiration", at.to_string()));
    }
    sign(wallet, NMC_REQUEST, tags, content)
}

/// A request the mint side can serve.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenedRequest {
    /// The wallet's key for this request (the response goes to it).
    pub requester: nostr::PublicKey,
    /// The method.
    pub method: NmcMethod,
    /// Its parameters (an object, or null).
    pub params: Value,
}

/// Why a request is not served.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// No answer at all: not a request, not to this mint, not signed by its author, past its
    /// expiration or further than [`MAX_REQUEST_AGE_SECS`] from now.
    Ignore(&'static str),
    /// Answered with an error (`result_type` is the method as named, if it could be read).
    Answer {
        /// The method as the request named it, or empty.
        result_type: String,
        /// The error to send back.
        error: NmcError,
    },
}

fn answer(result_type: &str, error: NmcError) -> Refusal {
    Refusal::Answer {
        result_type: result_type.chars().take(64).collect(),
        error,
    }
}

/// Opens a 27338 with the mint's keys at unix time `now`: checks kind, signature, `p`, age and
/// NIP-40 expiration (those failing are ignored), then decrypts and reads it (those failing are
/// answered: `BAD_REQUEST`, `NOT_IMPLEMENTED`, `PAYLOAD_TOO_LARGE`).
pub fn open_request(
    mint: &nostr::Keys,
    request: &SignedEvent,
    now: u64,
) -> Result<OpenedRequest, Refusal> {
    if request.kind != NMC_REQUEST {
        return Err(Refusal::Ignore("not a request"));
    }
    if request.tag_value("p") != Some(mint.public_key().to_hex().as_str()) {
        return Err(Refusal::Ignore("addressed to another mint"));
    }
    if request.verify().is_err() {
        return Err(Refusal::Ignore("id or signature does not verify"));
    }
    if request.created_at.abs_diff(now) > MAX_REQUEST_AGE_SECS {
        return Err(Refusal::Ignore("created too far from now"));
    }
    if let Some(at) = request.tag_value("expiration") {
        match at.parse::<u64>() {
            Ok(at) if at <= now => return Err(Refusal::Ignore("expired")),
            Ok(_) => {}
            Err(_) => {
                return Err(answer(
                    "",
                    NmcError::bad_request("expiration is not a unix time"),
                ))
            }
        }
    }
    let Some(requester) = x_only(&request.pubkey) else {
        return Err(Refusal::Ignore("author is not a valid key"));
    };
    if request.content.len() > MAX_EVENT_JSON_BYTES {
        return Err(answer(
            "",
            NmcError::new(NmcErrorCode::PayloadTooLarge, "request is too large"),
        ));
    }
    let ck = ConversationKey::from_keys(mint, &requester)
        .map_err(|_| answer("", NmcError::bad_request("cannot derive the shared key")))?;
    let body = nip44::decrypt_to_bytes(&ck, &request.content).map_err(|e| {
        answer(
            "",
            NmcError::bad_request(format!("content is not NIP-44 v2 to this mint: {e}")),
        )
    })?;
    if body.len() > MAX_PLAINTEXT {
        return Err(answer(
            "",
            NmcError::new(
                NmcErrorCode::PayloadTooLarge,
                format!("{} bytes of request, at most {MAX_PLAINTEXT}", body.len()),
            ),
        ));
    }
    let parsed: NmcRequest = serde_json::from_slice(&body)
        .map_err(|e| answer("", NmcError::bad_request(format!("request JSON: {e}"))))?;
    let method: NmcMethod = parsed
        .method
        .parse()
        .map_err(|e| answer(&parsed.method, e))?;
    if !matches!(parsed.params, Value::Object(_) | Value::Null) {
        return Err(answer(
            &parsed.method,
            NmcError::bad_request("params must be a JSON object"),
        ));
    }
    Ok(OpenedRequest {
        requester,
        method,
        params: parsed.params,
    })
}

/// Encrypts a response to the request's author and signs it with the mint's keys (kind 27339,
/// `p` = requester, `e` = request id). A response whose plaintext would pass
/// [`MAX_PLAINTEXT`] is replaced by `PAYLOAD_TOO_LARGE`, never cut.
pub fn build_response(
    mint: &nostr::Keys,
    request: &SignedEvent,
    response: &NmcResponse,
) -> Result<SignedEvent, BuildError> {
    let requester = x_only(&request.pubkey)
        .ok_or_else(|| BuildError::Invalid(ParseError::malformed("pubkey", "not a valid key")))?;
    let mut body = serde_json::to_string(response).map_err(|e| BuildError::Json(e.to_string()))?;
    if body.len() > MAX_PLAINTEXT {
        let too_large = NmcResponse::err(
            &response.result_type,
            NmcError::new(
                NmcErrorCode::PayloadTooLarge,
                format!(
                    "the answer is {} bytes, more than {MAX_PLAINTEXT}: ask for less",
                    body.len()
                ),
            ),
        );
        body = serde_json::to_string(&too_large).map_err(|e| BuildError::Json(e.to_string()))?;
    }
    let ck = ConversationKey::from_keys(mint, &requester)?;
    let content = nip44::encrypt(&ck, body.as_bytes())?;
    sign(
        mint,
        NMC_RESPONSE,
        vec![
            tag2("p", requester.to_hex()),
            tag2("e", request.id.to_hex()),
        ],
        content,
    )
}

/// A response as the wallet reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenedResponse {
    /// The mint that answered (compare with the mint asked).
    pub mint: nostr::PublicKey,
    /// The request it answers (compare with the request sent).
    pub request: EventId,
    /// The answer.
    pub response: NmcResponse,
}

/// Why a response cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OpenResponseError {
    /// Another kind.
    #[error("kind {0} is not a response")]
    Kind(u16),
    /// Its id or signature fails.
    #[error("event: {0}")]
    Signature(VerifyError),
    /// A tag is missing, malformed, or names another key.
    #[error("tag {0}")]
    Tag(&'static str),
    /// The content does not decrypt with the wallet's key.
    #[error("decryption: {0}")]
    Decrypt(nip44::Nip44Error),
    /// The plaintext is not a response.
    #[error("content: {0}")]
    Content(String),
}

/// Opens a 27339 with the wallet's keys: kind, signature and `p` checked, decrypted, parsed.
pub fn open_response(
    wallet: &nostr::Keys,
    response: &SignedEvent,
) -> Result<OpenedResponse, OpenResponseError> {
    if response.kind != NMC_RESPONSE {
        return Err(OpenResponseError::Kind(response.kind));
    }
    response.verify().map_err(OpenResponseError::Signature)?;
    if response.tag_value("p") != Some(wallet.public_key().to_hex().as_str()) {
        return Err(OpenResponseError::Tag("p: not addressed to this key"));
    }
    let request = response
        .tag_value("e")
        .and_then(|e| EventId::parse(e).ok())
        .ok_or(OpenResponseError::Tag("e: missing or malformed"))?;
    let mint = x_only(&response.pubkey).ok_or(OpenResponseError::Tag("pubkey"))?;
    let ck = ConversationKey::from_keys(wallet, &mint).map_err(OpenResponseError::Decrypt)?;
    let body = nip44::decrypt(&ck, &response.content).map_err(OpenResponseError::Decrypt)?;
    let parsed: NmcResponse =
        serde_json::from_str(&body).map_err(|e| OpenResponseError::Content(e.to_string()))?;
    if parsed.result.is_some() == parsed.error.is_some() {
        return Err(OpenResponseError::Content(
            "exactly one of result and error must be set".into(),
        ));
    }
    Ok(OpenedResponse {
        mint,
        request,
        response: parsed,
    })
}
