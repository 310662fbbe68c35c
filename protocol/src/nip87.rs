//! NIP-87: Cashu mint announcements (38172), Fedimint announcements (38173), recommendations
//! (38000), and the NIP-09 deletions (5) that withdraw recommendations. PROTOCOL.md §2.1 lists the
//! real-world shapes each parser tolerates.

use crate::event::{EventId, SignedEvent};
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
}

/// A parsed NIP-09 deletion request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    /// Ids named by `e` tags.
    pub event_ids: Vec<EventId>,
    /// Coordinates named by `a` tags, verbatim.
    pub coordinates: Vec<String>,
}

#[allow(unused_imports)]
use crate::error::ParseError as _ParseErrorForParsers;
#[allow(dead_code)]
fn _uses(_: &SignedEvent) {}
