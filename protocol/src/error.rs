//! The one error type of every parser: which field, and why.

use std::fmt;

/// Why a field was refused. [`Reason::label`] gives a stable name for metrics and counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// A required field or tag is absent.
    Missing,
    /// The value is not of the expected shape (bad hex, wrong length, wrong type).
    Malformed(String),
    /// A point that is not a valid compressed secp256k1 point.
    NotOnCurve,
    /// A number outside its allowed range.
    OutOfRange(String),
    /// The event or one of its collections is larger than the limit.
    TooLarge {
        /// The limit that was exceeded.
        limit: usize,
        /// What was found.
        found: usize,
    },
    /// The event is of another kind than the parser reads.
    WrongKind {
        /// The kind the parser reads.
        expected: u16,
        /// The kind of the event.
        found: u16,
    },
    /// The event is of a kind or shape mintwatch deliberately ignores (another app's use).
    NotForUs(String),
}

impl Reason {
    /// A short stable label, usable as a metric label value.
    pub fn label(&self) -> &'static str {
        match self {
            Reason::Missing => "missing",
            Reason::Malformed(_) => "malformed",
            Reason::NotOnCurve => "not_on_curve",
            Reason::OutOfRange(_) => "out_of_range",
            Reason::TooLarge { .. } => "too_large",
            Reason::WrongKind { .. } => "wrong_kind",
            Reason::NotForUs(_) => "not_for_us",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Missing => write!(f, "missing"),
            Reason::Malformed(why) => write!(f, "malformed: {why}"),
            Reason::NotOnCurve => write!(f, "not a compressed secp256k1 point"),
            Reason::OutOfRange(why) => write!(f, "out of range: {why}"),
            Reason::TooLarge { limit, found } => write!(f, "too large: {found} > {limit}"),
            Reason::WrongKind { expected, found } => {
                write!(f, "wrong kind: expected {expected}, found {found}")
            }
            Reason::NotForUs(why) => write!(f, "not for mintwatch: {why}"),
        }
    }
}

/// A refused input: the field (a path such as `content[2].contents[7].Y`) and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ParseError {
    /// Where in the input the problem is.
    pub field: String,
    /// What is wrong with it.
    pub reason: Reason,
}

impl ParseError {
    /// A new error for `field`.
    pub fn new(field: impl Into<String>, reason: Reason) -> Self {
        Self {
            field: field.into(),
            reason,
        }
    }

    /// A required field is missing.
    pub fn missing(field: impl Into<String>) -> Self {
        Self::new(field, Reason::Missing)
    }

    /// A field is malformed, with a short explanation.
    pub fn malformed(field: impl Into<String>, why: impl Into<String>) -> Self {
        Self::new(field, Reason::Malformed(why.into()))
    }

    /// Prefixes the field path, for errors bubbling out of nested structures.
    pub fn within(mut self, parent: &str) -> Self {
        self.field = if self.field.is_empty() {
            parent.to_string()
        } else if self.field.starts_with('[') {
            format!("{parent}{}", self.field)
        } else {
            format!("{parent}.{}", self.field)
        };
        self
    }
}
