//! Requests: the methods served and their parameters, read from a decrypted request body, with
//! the ranges serde cannot express checked.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::directory::DirectoryQuery;
use super::response::{ErrorCode, ServiceError};
use super::ys::de_points;
use crate::error::{ParseError, Reason};
use crate::types::{MintKey, Point};

/// The most `Y`s one `check_spent` may ask about: with at most
/// [`MAX_EVENTS_PER_Y`](super::response::MAX_EVENTS_PER_Y) event ids each, the answer stays under
/// [`MAX_ANSWER_PLAINTEXT`](super::response::MAX_ANSWER_PLAINTEXT), so every NIP-44
/// implementation can read it.
pub const MAX_CHECK_SPENT_YS: usize = 250;

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

/// `check_spent` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckSpent {
    /// The `Y`s asked about, 1..=[`MAX_CHECK_SPENT_YS`].
    #[serde(rename = "Ys", deserialize_with = "de_points")]
    pub ys: Vec<Point>,
    /// Only this mint's burns, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mint: Option<MintKey>,
}

/// Parameters naming one mint (`get_mint`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MintParam {
    /// The mint.
    pub mint: MintKey,
}

/// `get_evidence` parameters: a mint, and which page of its open findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceQuery {
    /// The mint.
    pub mint: MintKey,
    /// Index of the first open finding to answer (in the service's order): the `next` of the
    /// previous answer; absent or 0 for the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
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
    GetEvidence(EvidenceQuery),
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
