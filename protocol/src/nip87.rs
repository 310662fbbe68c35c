//! NIP-87: Cashu mint announcements (38172), Fedimint announcements (38173), recommendations
//! (38000), and the NIP-09 deletions (5) that withdraw recommendations. PROTOCOL.md §2.1 lists the
//! real-world shapes each parser tolerates.

use std::collections::HashSet;

use crate::error::{ParseError, Reason};
use crate::event::{EventId, SignedEvent};
use crate::kinds::{DELETION, FEDIMINT_ANNOUNCEMENT, MINT_ANNOUNCEMENT, RECOMMENDATION};
use crate::types::{MintKey, MintUrl, Network};

/// What the `d` tag of a 38172 names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnnouncedMint {
    /// A mint key (64-hex x-only or 66-hex compressed, normalised to x-only).
    Key(MintKey),
    /// Anything else (e.g. a bot's 16-character random id): stored, but the mint is unbound.
    Opaque(String),
}

/// Optional metadata from a 38172's content (kind-0 style or NUT-06 style JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnnouncementMetadata {
    /// `name`.
    pub name: Option<String>,
    /// `description` (or `about`).
    pub description: Option<String>,
    /// `icon_url`, `picture` or `icon`.
    pub icon: Option<String>,
    /// `motd`.
    pub motd: Option<String>,
    /// `version`.
    pub version: Option<String>,
}

/// A parsed kind 38172.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintAnnouncement {
    /// The raw `d` value (the addressable identifier).
    pub d: String,
    /// What `d` names.
    pub mint: AnnouncedMint,
    /// `u` tags, normalised; invalid URLs are skipped.
    pub urls: Vec<MintUrl>,
    /// `nuts`, deduplicated and sorted.
    pub nuts: Vec<u16>,
    /// `n`, if present.
    pub network: Option<Network>,
    /// From the content, if it is JSON of a known shape.
    pub metadata: AnnouncementMetadata,
}

/// A parsed kind 38173.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FedimintAnnouncement {
    /// `d`: the federation id.
    pub federation_id: String,
    /// `u`: invite codes.
    pub invite_codes: Vec<String>,
    /// `modules`, split from CSV.
    pub modules: Vec<String>,
    /// `n`, if present.
    pub network: Option<Network>,
}

/// What a recommendation is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReviewTarget {
    /// A well-formed `a` coordinate `<kind>:<64-hex pubkey>:<d>`.
    Coordinate {
        /// 38172 or 38173.
        kind: u16,
        /// The announcing author (hex).
        author: String,
        /// The announcement's `d`.
        d: String,
    },
    /// The `d` tag (a mint key, federation id or other identifier).
    D(String),
    /// A `u` tag (a mint URL or invite code).
    Url(String),
}

/// A parsed kind 38000 about a mint or federation.
#[derive(Debug, Clone, PartialEq)]
pub struct Recommendation {
    /// 38172 or 38173 (the `k` tag).
    pub target_kind: u16,
    /// What is reviewed.
    pub target: ReviewTarget,
    /// 1.0..=5.0, if the review carries a rating.
    pub rating: Option<f64>,
    /// The review text (content without a `[N/5]` prefix).
    pub text: String,
    /// The mint key the target names: the `d` of a 38172 coordinate, or a bare `d`, when the
    /// review is about a mint (`k` = 38172) and that `d` is a valid key. Checked once here (the
    /// key check is a square root) rather than wherever the review is used.
    pub target_mint: Option<MintKey>,
}

/// A parsed NIP-09 deletion request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    /// Ids named by `e` tags.
    pub event_ids: Vec<EventId>,
    /// Coordinates named by `a` tags, verbatim.
    pub coordinates: Vec<String>,
}

/// The `d` of an addressable event. Absent or empty, the event names nothing mintwatch can list.
fn required_d(event: &SignedEvent) -> Result<&str, ParseError> {
    event
        .tag_value("d")
        .filter(|d| !d.trim().is_empty())
        .ok_or_else(|| ParseError::missing("tags.d"))
}

/// The first values of every tag named `name`, trimmed, non-empty, without repeats, in order.
fn first_values(event: &SignedEvent, name: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    event
        .tags_named(name)
        .filter_map(|v| v.first())
        .map(|v| v.trim())
        .filter(|v| !v.is_empty() && seen.insert(*v))
        .map(str::to_string)
        .collect()
}

/// Every number in every `nuts` tag: values may be split across elements and separated by commas
/// and/or whitespace. Tokens that are not numbers are skipped.
fn nut_numbers(event: &SignedEvent) -> Vec<u16> {
    let mut nuts: Vec<u16> = event
        .tags_named("nuts")
        .flatten()
        .flat_map(|v| v.split(|c: char| c == ',' || c.is_whitespace()))
        .filter_map(|t| t.parse().ok())
        .collect();
    nuts.sort_unstable();
    nuts.dedup();
    nuts
}

impl AnnouncementMetadata {
    /// Reads kind-0 style (`name`, `about`, `picture`) or NUT-06 style (`name`, `description`,
    /// `icon_url`, `motd`, `version`) JSON; anything else gives empty metadata.
    pub fn from_content(content: &str) -> Self {
        let Ok(serde_json::Value::Object(obj)) = serde_json::from_str(content) else {
            return Self::default();
        };
        let text = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| obj.get(*k).and_then(|v| v.as_str()))
                .map(str::to_string)
        };
        Self {
            name: text(&["name"]),
            description: text(&["description", "about"]),
            icon: text(&["icon_url", "picture", "icon"]),
            motd: text(&["motd"]),
            version: text(&["version"]),
        }
    }
}

impl AnnouncedMint {
    /// Reads a `d` value: a mint key (either form, on the curve) or anything else.
    pub fn from_d(d: &str) -> Self {
        match d.len() {
            64 | 66 => MintKey::parse(d).map_or_else(|_| Self::Opaque(d.to_string()), Self::Key),
            _ => Self::Opaque(d.to_string()),
        }
    }
}

impl MintAnnouncement {
    /// Parses a kind 38172. Only a missing `d` is an error; invalid URLs, non-numeric `nuts` and
    /// content of unknown shape are skipped, so what the event does say is kept.
    pub fn parse(event: &SignedEvent) -> Result<Self, ParseError> {
        event.expect_kind(MINT_ANNOUNCEMENT)?;
        let d = required_d(event)?.to_string();
        let mut seen = HashSet::new();
        let urls: Vec<MintUrl> = event
            .tags_named("u")
            .filter_map(|v| v.first())
            .filter_map(|u| MintUrl::parse(u).ok())
            .filter(|u| seen.insert(u.clone()))
            .collect();
        Ok(Self {
            mint: AnnouncedMint::from_d(&d),
            d,
            urls,
            nuts: nut_numbers(event),
            network: event.tag_value("n").map(Network::from_tag),
            metadata: AnnouncementMetadata::from_content(&event.content),
        })
    }

    /// Whether `d` names the event's own signer (a self-announcement, PROTOCOL.md §1).
    pub fn names_signer(&self, signer: &[u8; 32]) -> bool {
        matches!(&self.mint, AnnouncedMint::Key(k) if k.as_bytes() == signer)
    }
}

impl FedimintAnnouncement {
    /// Parses a kind 38173: `d` (required), `u` invite codes (a third element is ignored),
    /// `modules` CSV, `n`.
    pub fn parse(event: &SignedEvent) -> Result<Self, ParseError> {
        event.expect_kind(FEDIMINT_ANNOUNCEMENT)?;
        let federation_id = required_d(event)?.to_string();
        let mut seen = HashSet::new();
        let modules: Vec<String> = event
            .tags_named("modules")
            .flatten()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|m| !m.is_empty() && seen.insert(*m))
            .map(str::to_string)
            .collect();
        Ok(Self {
            federation_id,
            invite_codes: first_values(event, "u"),
            modules,
            network: event.tag_value("n").map(Network::from_tag),
        })
    }
}

/// `<kind>:<64-hex>:<d>` with kind 38172 or 38173; `None` for anything else (e.g. the
/// `38172:cashu-mint-pubkey:<d>` placeholder copied from the NIP's example).
fn parse_coordinate(s: &str) -> Option<ReviewTarget> {
    let mut parts = s.trim().splitn(3, ':');
    let kind_text = parts.next()?;
    if kind_text.is_empty() || !kind_text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let kind: u16 = kind_text.parse().ok()?;
    if kind != MINT_ANNOUNCEMENT && kind != FEDIMINT_ANNOUNCEMENT {
        return None;
    }
    let author = parts.next()?;
    if author.len() != 64 || !author.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let d = parts.next()?;
    Some(ReviewTarget::Coordinate {
        kind,
        author: author.to_ascii_lowercase(),
        d: d.to_string(),
    })
}

/// A rating number: digits with at most one `.`, in 1..=5. `None` for anything else.
fn rating_value(s: &str) -> Option<f64> {
    let s = s.trim();
    let well_formed = !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && s.bytes().filter(|b| *b == b'.').count() <= 1
        && s.bytes().any(|b| b.is_ascii_digit());
    if !well_formed {
        return None;
    }
    s.parse::<f64>().ok().filter(|n| (1.0..=5.0).contains(n))
}

/// A leading `[N/5]` (N digits with an optional decimal part): the rating it gives, if in range,
/// and the text after it. A prefix out of range is still removed from the text (it is a rating,
/// just not a usable one). Without a prefix: no rating and the whole content.
fn split_rating_prefix(content: &str) -> (Option<f64>, &str) {
    let trimmed = content.trim();
    let prefix = trimmed.strip_prefix('[').and_then(|rest| {
        let close = rest.find(']')?;
        let (num, den) = rest[..close].split_once('/')?;
        let num = num.trim();
        let is_number = !num.is_empty()
            && num.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && num.bytes().any(|b| b.is_ascii_digit());
        (den.trim() == "5" && is_number).then(|| (rating_value(num), rest[close + 1..].trim()))
    });
    prefix.unwrap_or((None, trimmed))
}

impl Recommendation {
    /// Parses a kind 38000 about a mint (`k` = 38172) or federation (`k` = 38173); other `k`s
    /// are [`Reason::NotForUs`] (other apps use 38000 too). The target is the first well-formed
    /// `a` coordinate, else `d`, else `u`. The rating is the `rating` tag (`["rating", N]` or
    /// `["rating", N, "5"]`), else a `[N/5]` content prefix; out of 1..=5 it is dropped and the
    /// review kept.
    pub fn parse(event: &SignedEvent) -> Result<Self, ParseError> {
        event.expect_kind(RECOMMENDATION)?;
        let target_kind = event
            .tags_named("k")
            .filter_map(|v| v.first())
            .filter_map(|k| k.trim().parse::<u16>().ok())
            .find(|k| *k == MINT_ANNOUNCEMENT || *k == FEDIMINT_ANNOUNCEMENT)
            .ok_or_else(|| {
                ParseError::new(
                    "tags.k",
                    Reason::NotForUs("not about a mint or federation".to_string()),
                )
            })?;
        let target = event
            .tags_named("a")
            .filter_map(|v| v.first())
            .find_map(|a| parse_coordinate(a))
            .or_else(|| {
                first_values(event, "d")
                    .into_iter()
                    .next()
                    .map(ReviewTarget::D)
            })
            .or_else(|| {
                first_values(event, "u").into_iter().next().map(|u| {
                    // Mint URLs are normalised so reviews of one mint meet; invite codes are kept.
                    ReviewTarget::Url(MintUrl::parse(&u).map_or(u, |m| m.as_str().to_string()))
                })
            })
            .ok_or_else(|| ParseError::missing("tags.a|d|u"))?;
        let tag_rating = event
            .tags_named("rating")
            .filter(|v| v.len() == 1 || v.get(1).is_some_and(|scale| scale.trim() == "5"))
            .find_map(|v| v.first().and_then(|n| rating_value(n)));
        let (prefix_rating, text) = split_rating_prefix(&event.content);
        let target_mint = target_mint(target_kind, &target);
        Ok(Self {
            target_kind,
            target,
            rating: tag_rating.or(prefix_rating),
            text: text.to_string(),
            target_mint,
        })
    }
}

/// See [`Recommendation::target_mint`].
fn target_mint(target_kind: u16, target: &ReviewTarget) -> Option<MintKey> {
    if target_kind != MINT_ANNOUNCEMENT {
        return None;
    }
    match target {
        ReviewTarget::Coordinate { kind, d, .. } if *kind == MINT_ANNOUNCEMENT => {
            MintKey::parse(d).ok()
        }
        ReviewTarget::D(d) => MintKey::parse(d).ok(),
        _ => None,
    }
}

impl Deletion {
    /// Parses a NIP-09 kind 5: the ids of its `e` tags (values that are not 64-hex are skipped)
    /// and its `a` coordinates. A deletion that names nothing is [`Reason::Missing`].
    pub fn parse(event: &SignedEvent) -> Result<Self, ParseError> {
        event.expect_kind(DELETION)?;
        let mut seen = HashSet::new();
        let event_ids: Vec<EventId> = event
            .tags_named("e")
            .filter_map(|v| v.first())
            .filter_map(|e| EventId::parse(e.trim()).ok())
            .filter(|id| seen.insert(*id))
            .collect();
        let coordinates = first_values(event, "a");
        if event_ids.is_empty() && coordinates.is_empty() {
            return Err(ParseError::missing("tags.e|a"));
        }
        Ok(Self {
            event_ids,
            coordinates,
        })
    }
}
