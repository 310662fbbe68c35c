//! How numbers, times, keys and finding names are written on the pages.

use chrono::DateTime;

/// `1234567` as `1,234,567`.
pub fn thousands(n: impl Into<i128>) -> String {
    let n: i128 = n.into();
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A `u128` sum as [`thousands`] (sums of amounts can exceed `i64`; beyond `i128` is not reached).
pub fn amount(n: u128) -> String {
    thousands(i128::try_from(n).unwrap_or(i128::MAX))
}

/// Unix seconds as `2026-09-21 14:03 UTC`.
pub fn time(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0).map_or_else(
        || secs.to_string(),
        |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

/// Unix seconds as an ISO 8601 instant, for `<time datetime=…>`.
pub fn iso(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0).map_or_else(String::new, |t| t.to_rfc3339())
}

/// Days since 1970-01-01 as `2026-09-21`.
pub fn day(days: i64) -> String {
    DateTime::from_timestamp(days.saturating_mul(86_400), 0)
        .map_or_else(|| days.to_string(), |t| t.format("%Y-%m-%d").to_string())
}

/// The first and last 8 characters of a long hex string, for display (the full value is in the
/// link or the title beside it).
pub fn short(hex: &str) -> String {
    if hex.len() <= 20 {
        return hex.to_string();
    }
    format!("{}…{}", &hex[..8], &hex[hex.len() - 8..])
}

/// A finding name (`double-spend`) as a reader's phrase (`Double spend`).
pub fn finding_name(kind: &str) -> String {
    let words = kind.replace('-', " ");
    let mut c = words.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// What a finding means, in one sentence (PROTOCOL.md §3).
pub fn finding_meaning(kind: &str) -> &'static str {
    match kind {
        "double-spend" => {
            "The mint burnt the same secret (Y) twice: in two of its signed batches, or twice in one."
        }
        "cross-mint-collision" => "Two different mints both published a burn of the same secret (Y).",
        "fork" => {
            "Two different batches of the mint name the same previous batch: its history was rewritten."
        }
        "gap" => {
            "A batch names a previous batch that was never published: part of the history is missing."
        }
        "liability-inversion" => {
            "For one unit and epoch the mint burnt more than it ever issued: tokens it never signed were redeemed."
        }
        "balance-mismatch" => {
            "The outstanding balance the mint declared when closing an epoch differs from what it issued minus what it burnt."
        }
        "identity-mismatch" => {
            "The mint's identity event names a different key than the one that signed it."
        }
        _ => "A finding of mintwatch's checks.",
    }
}

/// A rank as text: `87` or `unranked`.
pub fn rank(rank: Option<f32>) -> String {
    rank.map_or_else(|| "unranked".to_string(), |r| format!("{r:.0}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_times() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(-1_234_567), "-1,234,567");
        assert_eq!(amount(12_345_678_901), "12,345,678,901");
        assert_eq!(time(1_790_000_000), "2026-09-21 14:13 UTC");
        assert_eq!(day(20_000), "2024-10-04");
        assert_eq!(short("0123456789abcdef0123456789"), "01234567…23456789");
        assert_eq!(finding_name("double-spend"), "Double spend");
        assert_eq!(rank(Some(87.4)), "87");
        assert_eq!(rank(None), "unranked");
    }
}
