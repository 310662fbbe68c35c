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
//!
//! - `request`: the methods and their parameters, read from a decrypted request body;
//! - `directory`: the directory search's parameters and their ranges;
//! - `response`: response bodies, error codes and the `check_spent` result;
//! - `envelope`: the signed, encrypted events that carry them (build and open);
//! - `serde_text`: how the crate's parsing types appear in those bodies (as their text forms).

mod directory;
mod envelope;
mod request;
mod response;
mod ys;

pub use directory::{DirectoryQuery, Sort};
pub use envelope::{
    build_request, build_response, build_service_info, open_request, open_response,
    parse_service_info, OpenError, OpenedResponse, ENCRYPTION,
};
pub use request::{CheckSpent, EvidenceQuery, Method, MintParam, Query, MAX_CHECK_SPENT_YS};
pub use response::{
    CheckSpentResult, ErrorCode, Response, ServiceError, SpentStatus, MAX_ANSWER_PLAINTEXT,
    MAX_EVENTS_PER_Y,
};
