//! The directory search (`search_mints`, and the HTTP API's directory endpoint): filters, sort
//! order and paging, and their ranges.

use serde::{Deserialize, Serialize};

use crate::error::{ParseError, Reason};
use crate::types::{IdentityLevel, Network, Unit};

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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<Unit>,
    /// Only mints supporting this NUT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nut: Option<u16>,
    /// Only mints on this network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    /// Only mints at this identity level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
    /// Longest free-text query, in characters (what OpenAPI's `maxLength` counts).
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
        let q_chars = self.q.as_ref().map_or(0, |q| q.chars().count());
        if q_chars > Self::MAX_Q_LEN {
            return Err(ParseError::new(
                "q",
                Reason::TooLarge {
                    limit: Self::MAX_Q_LEN,
                    found: q_chars,
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
