//! Nostr Mint Connect (docs/NMC.md): a Cashu mint's HTTP API over nostr relays. Pure: the
//! method table and what HTTP call each request is ([`methods`]), the envelope of requests and
//! responses with its error codes ([`envelope`]), and the kinds 17338, 27338 and 27339 built,
//! signed, checked and opened ([`events`]). The gateway (mint side) and the wallet use it; no
//! I/O here.

pub mod envelope;
pub mod events;
pub mod methods;

pub use envelope::{NmcError, NmcErrorCode, NmcRequest, NmcResponse, MAX_PLAINTEXT};
pub use events::{
    build_info, build_request, build_response, open_request, open_response, parse_info, NmcInfo,
    OpenResponseError, OpenedRequest, OpenedResponse, Refusal, MAX_REQUEST_AGE_SECS,
};
pub use methods::{http_call, HttpCall, HttpVerb, NmcMethod};
