//! The two filters a relay task reads, and how far each got on its relay (which survives
//! reconnects and becomes the [`Cursor`] the pipeline stores).

use mintwatch_protocol::kinds;

use crate::crawl::{MINT_AUTHORS_FILTER, PUBLIC_FILTER};
use crate::pipeline::Cursor;

const PUBLIC_KINDS: &[u16] = &kinds::READ_FROM_ANYONE;
const MINT_KINDS: &[u16] = &[kinds::FIN_EPOCH];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum FilterId {
    Public,
    MintAuthors,
}

impl FilterId {
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Public => PUBLIC_FILTER,
            Self::MintAuthors => MINT_AUTHORS_FILTER,
        }
    }

    pub(super) fn kinds(self) -> &'static [u16] {
        match self {
            Self::Public => PUBLIC_KINDS,
            Self::MintAuthors => MINT_KINDS,
        }
    }
}

/// How far one filter got on this relay; survives reconnects.
#[derive(Debug, Default)]
pub(super) struct Progress {
    pub(super) backfill_until: Option<u64>,
    pub(super) backfill_done: bool,
    pub(super) newest_seen: Option<u64>,
    /// A catch-up walk is running: newest events go to `catchup_newest` until it ends.
    pub(super) catchup_active: bool,
    pub(super) catchup_newest: Option<u64>,
    /// Changed since the last cursor was sent.
    pub(super) dirty: bool,
}

impl Progress {
    pub(super) fn from_cursor(cursor: Option<Cursor>) -> Self {
        let mut p = Self::default();
        if let Some(c) = cursor {
            p.backfill_until = c.backfill_until;
            // `Some(0)` covers everything there is.
            p.backfill_done = c.backfill_done || c.backfill_until == Some(0);
            p.newest_seen = c.newest_seen;
        }
        p
    }

    pub(super) fn saw(&mut self, created_at: u64) {
        let slot = if self.catchup_active {
            &mut self.catchup_newest
        } else {
            &mut self.newest_seen
        };
        if slot.is_none_or(|n| created_at > n) {
            *slot = Some(created_at);
            self.dirty = true;
        }
    }
}
