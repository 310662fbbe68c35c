//! NIP-85 mint assertion, kind 30382: one mint's rank with every component beside it
//! (PROTOCOL.md §5). `d` is the mint's x-only key, so a newer assertion replaces the older one.
//!
//! Tags, in this order: `d`, `rank`, `identity`, `burns`, `mints`, one
//! `["outstanding", "<amount>", "<unit>"]` per unit, `double_spends`, `forks`, `gaps`,
//! `liability_inversions`, `reviews`, `rating` (if any), `last_seen` (if known), one `u` per URL.

use std::collections::HashSet;

use super::{sign, tag2, BuildError};
use crate::error::{ParseError, Reason};
use crate::event::SignedEvent;
use crate::kinds::ASSERTION;
use crate::types::{IdentityLevel, MintKey, MintUrl, Unit};

/// The highest rank.
pub const MAX_RANK: u8 = 100;
/// The highest mean rating (ratings are on a 5-point scale).
pub const MAX_RATING: f64 = 5.0;

/// Everything a mint assertion states about one mint.
#[derive(Debug, Clone, PartialEq)]
pub struct MintAssertion {
    /// The mint (`d`).
    pub mint: MintKey,
    /// Reputation rank, 0..=100.
    pub rank: u8,
    /// How strongly the mint's key is bound to the mint.
    pub identity: IdentityLevel,
    /// Number of burnt secrets seen.
    pub burns: u64,
    /// Number of issued signatures seen.
    pub mints: u64,
    /// Outstanding balance (MINT minus BURN) per unit; negative when burns exceed mints.
    /// At most one entry per unit.
    pub outstanding: Vec<(Unit, i128)>,
    /// Unresolved double-spends.
    pub double_spends: u64,
    /// Forks of the 4919 chain.
    pub forks: u64,
    /// Dangling `e` references in the chain.
    pub gaps: u64,
    /// (unit, epoch) pairs whose burns exceed their mints.
    pub liability_inversions: u64,
    /// Live reviews.
    pub reviews: u64,
    /// Mean review rating, 0..=5, if any review is rated.
    pub rating: Option<f64>,
    /// Unix seconds of the mint's latest event seen.
    pub last_seen: Option<u64>,
    /// The mint's URLs.
    pub urls: Vec<MintUrl>,
}

impl MintAssertion {
    /// Checks the ranges a parser would refuse, so a built event always parses back.
    pub fn validate(&self) -> Result<(), ParseError> {
        if self.rank > MAX_RANK {
            return Err(ParseError::new(
                "rank",
                Reason::OutOfRange(format!("{} is above {MAX_RANK}", self.rank)),
            ));
        }
        if let Some(r) = self.rating {
            check_rating(r)?;
        }
        let mut units = HashSet::new();
        for (unit, _) in &self.outstanding {
            if !units.insert(unit) {
                return Err(ParseError::malformed(
                    "outstanding",
                    format!("unit {unit} appears twice"),
                ));
            }
        }
        Ok(())
    }

    /// The tags of the assertion, in the documented order.
    pub fn tags(&self) -> Vec<Vec<String>> {
        let mut tags = vec![
            tag2("d", self.mint.to_hex()),
            tag2("rank", self.rank.to_string()),
            tag2("identity", self.identity.as_str()),
            tag2("burns", self.burns.to_string()),
            tag2("mints", self.mints.to_string()),
        ];
        for (unit, amount) in &self.outstanding {
            tags.push(vec![
                "outstanding".into(),
                amount.to_string(),
                unit.as_str().into(),
            ]);
        }
        tags.push(tag2("double_spends", self.double_spends.to_string()));
        tags.push(tag2("forks", self.forks.to_string()));
        tags.push(tag2("gaps", self.gaps.to_string()));
        tags.push(tag2(
            "liability_inversions",
            self.liability_inversions.to_string(),
        ));
        tags.push(tag2("reviews", self.reviews.to_string()));
        if let Some(r) = self.rating {
            // Rust prints the shortest text that parses back to the same f64.
            tags.push(tag2("rating", r.to_string()));
        }
        if let Some(t) = self.last_seen {
            tags.push(tag2("last_seen", t.to_string()));
        }
        for url in &self.urls {
            tags.push(tag2("u", url.as_str()));
        }
        tags
    }
}

fn check_rating(r: f64) -> Result<f64, ParseError> {
    if r.is_finite() && (0.0..=MAX_RATING).contains(&r) {
        Ok(r)
    } else {
        Err(ParseError::new(
            "rating",
            Reason::OutOfRange(format!("{r} is not in 0..={MAX_RATING}")),
        ))
    }
}

/// Signs a kind 30382 assertion with the indexer's keys.
pub fn build_assertion(
    keys: &nostr::Keys,
    assertion: &MintAssertion,
) -> Result<SignedEvent, BuildError> {
    assertion.validate()?;
    sign(keys, ASSERTION, assertion.tags(), String::new())
}

/// The single value of a tag that must appear at most once.
fn single<'a>(event: &'a SignedEvent, name: &'a str) -> Result<Option<&'a str>, ParseError> {
    let mut values = event.tags_named(name);
    let first = values.next();
    if values.next().is_some() {
        return Err(ParseError::malformed(name, "tag appears more than once"));
    }
    match first {
        None => Ok(None),
        Some(v) => v
            .first()
            .map(|s| Some(s.as_str()))
            .ok_or_else(|| ParseError::malformed(name, "tag has no value")),
    }
}

fn required<'a>(event: &'a SignedEvent, name: &'a str) -> Result<&'a str, ParseError> {
    single(event, name)?.ok_or_else(|| ParseError::missing(name))
}

fn number<T: std::str::FromStr>(name: &str, s: &str) -> Result<T, ParseError>
where
    T::Err: std::fmt::Display,
{
    s.parse::<T>()
        .map_err(|e| ParseError::malformed(name, format!("{s:?}: {e}")))
}

fn count(event: &SignedEvent, name: &str) -> Result<u64, ParseError> {
    number(name, required(event, name)?)
}

/// Reads a kind 30382 back. It checks shapes and ranges, not the signature (call
/// [`SignedEvent::verify`] first) and not who signed it (the caller decides which indexers it
/// trusts). Unknown tags are ignored, so later versions can add components.
pub fn parse_assertion(event: &SignedEvent) -> Result<MintAssertion, ParseError> {
    event.expect_kind(ASSERTION)?;
    let d = required(event, "d")?;
    if d.len() != 64 {
        return Err(ParseError::malformed(
            "d",
            "expected the mint's 64-hex x-only key",
        ));
    }
    let mint = MintKey::parse(d).map_err(|e| e.within("d"))?;
    let rank: u8 = number("rank", required(event, "rank")?)?;
    if rank > MAX_RANK {
        return Err(ParseError::new(
            "rank",
            Reason::OutOfRange(format!("{rank} is above {MAX_RANK}")),
        ));
    }
    let identity: IdentityLevel = required(event, "identity")?.parse()?;
    let mut outstanding: Vec<(Unit, i128)> = Vec::new();
    for (i, values) in event.tags_named("outstanding").enumerate() {
        let field = format!("outstanding[{i}]");
        let (amount, unit) = match values {
            [amount, unit, ..] => (amount, unit),
            _ => {
                return Err(ParseError::malformed(
                    field,
                    "expected an amount and a unit",
                ))
            }
        };
        let amount: i128 = number(&field, amount)?;
        let unit = Unit::parse(unit).map_err(|e| e.within(&field))?;
        if outstanding.iter().any(|(u, _)| *u == unit) {
            return Err(ParseError::malformed(
                field,
                format!("unit {unit} appears twice"),
            ));
        }
        outstanding.push((unit, amount));
    }
    let rating = single(event, "rating")?
        .map(|s| number::<f64>("rating", s).and_then(check_rating))
        .transpose()?;
    let last_seen = single(event, "last_seen")?
        .map(|s| number::<u64>("last_seen", s))
        .transpose()?;
    let urls = event
        .tags_named("u")
        .enumerate()
        .map(|(i, v)| {
            let field = format!("u[{i}]");
            v.first()
                .ok_or_else(|| ParseError::malformed(field.as_str(), "tag has no value"))
                .and_then(|s| MintUrl::parse(s).map_err(|e| e.within(&field)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(MintAssertion {
        mint,
        rank,
        identity,
        burns: count(event, "burns")?,
        mints: count(event, "mints")?,
        outstanding,
        double_spends: count(event, "double_spends")?,
        forks: count(event, "forks")?,
        gaps: count(event, "gaps")?,
        liability_inversions: count(event, "liability_inversions")?,
        reviews: count(event, "reviews")?,
        rating,
        last_seen,
        urls,
    })
}
