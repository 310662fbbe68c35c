//! Turning event-derived values into what Postgres accepts.
//!
//! Postgres `text` and `jsonb` cannot hold U+0000, but a JSON string may carry `\u0000`, so any
//! text parsed out of an event would make its whole batch fail — forever, since the cursor would
//! never move past it. Such text is cleaned here; the verbatim event JSON keeps the escape and
//! never contains a raw NUL (JSON forbids it), so the evidence is untouched.

use mintwatch_protocol::nip87::ReviewTarget;

/// The text without NUL characters.
pub(crate) fn pg_text(s: &str) -> String {
    if s.contains('\0') {
        s.replace('\0', "")
    } else {
        s.to_owned()
    }
}

/// The JSON value with NUL characters removed from every string and key.
pub(crate) fn pg_json(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(pg_text(s)),
        Value::Array(items) => Value::Array(items.iter().map(pg_json).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (pg_text(k), pg_json(v))).collect())
        }
        other => other.clone(),
    }
}

/// An unsigned protocol number as a Postgres bigint. Event times come from the wire as `u64`;
/// one past 2^63 is nonsense, and saturating keeps the event storable (its JSON is the evidence).
pub(crate) fn bigint(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The canonical text of a review target, as stored in `reviews.target`:
/// `a:<kind>:<author>:<d>`, `d:<value>` or `u:<value>`. One review per (author, this text).
pub(crate) fn review_target_text(target: &ReviewTarget) -> String {
    match target {
        ReviewTarget::Coordinate { kind, author, d } => {
            format!("a:{kind}:{}:{}", author.to_ascii_lowercase(), pg_text(d))
        }
        ReviewTarget::D(d) => format!("d:{}", pg_text(d)),
        ReviewTarget::Url(u) => format!("u:{}", pg_text(u)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_is_removed_everywhere() {
        assert_eq!(pg_text("a\0b"), "ab");
        let v = serde_json::json!({"k\u{0}": ["x\u{0}y", 1, {"z": "\u{0}"}]});
        assert_eq!(pg_json(&v), serde_json::json!({"k": ["xy", 1, {"z": ""}]}));
    }

    #[test]
    fn bigint_saturates() {
        assert_eq!(bigint(5), 5);
        assert_eq!(bigint(u64::MAX), i64::MAX);
    }
}
