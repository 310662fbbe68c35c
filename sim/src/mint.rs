//! One simulated mint's state from round to round: its keys, identity plan, live keysets per
//! unit (counters, not secrets), chain head, totals, reviews and pending misbehaviour.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use nostr::Keys;
use rand::RngCore;
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use secp256k1::{PublicKey, SecretKey, SECP256K1};

use mintwatch_protocol::broadcast::{BurnEntry, DataGroup, GroupContents};
use mintwatch_protocol::{Epoch, EventId, IdentityLevel, MintKey, MintUrl, Point, Unit};

use crate::misbehaviour::MisbehaviourKind;
use crate::truth::{GroupTotals, MintRole, MintStats};
use crate::wallet::{keyset_key, Token};

/// Where a mint's identity comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdentityPlan {
    /// 11467, a self-announcement with an x-only `d`, and an operator announcement.
    Full,
    /// 11467 and a self-announcement.
    SelfSigned,
    /// A self-announcement whose `d` is the compressed key.
    SelfCompressed,
    /// Only the operator announces it.
    OperatorOnly,
    /// Nothing: known only from its batches.
    Unbound,
    /// Only a 11467 naming another key (published when its misbehaviour starts).
    MismatchOnly,
}

/// A keyset whose tokens are being issued (the last one) or still redeemed.
#[derive(Debug, Clone)]
pub(crate) struct Cursor {
    pub(crate) epoch: Epoch,
    pub(crate) k: SecretKey,
    /// Tokens issued so far (their indices are `0..minted`).
    pub(crate) minted: u64,
    /// Tokens burnt so far (always the oldest: `0..burnt`).
    pub(crate) burnt: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct Lane {
    pub(crate) unit: Unit,
    /// Oldest first; the last one is the current epoch.
    pub(crate) live: VecDeque<Cursor>,
    pub(crate) last_fin: Option<EventId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stage {
    Waiting,
    /// The first half happened in `first`; the second half comes next round.
    Second {
        first: EventId,
        unit: Unit,
        epoch: Epoch,
    },
    Done,
}

#[derive(Debug, Clone)]
pub(crate) struct Act {
    pub(crate) kind: MisbehaviourKind,
    pub(crate) round: u64,
    pub(crate) stage: Stage,
}

/// A cross-mint collision waiting for the partner's batch of the same round.
#[derive(Debug, Clone)]
pub(crate) struct CrossDue {
    pub(crate) token: Token,
    pub(crate) other: MintKey,
    pub(crate) other_event: EventId,
}

#[derive(Debug, Clone)]
pub(crate) struct MintState {
    pub(crate) keys: Keys,
    pub(crate) key: MintKey,
    pub(crate) pubkey: Point,
    pub(crate) seed: [u8; 32],
    pub(crate) name: String,
    pub(crate) url: MintUrl,
    pub(crate) role: MintRole,
    pub(crate) plan: IdentityPlan,
    pub(crate) lanes: Vec<Lane>,
    pub(crate) extra_units: Vec<Unit>,
    pub(crate) head: Option<EventId>,
    pub(crate) chain_len: u64,
    pub(crate) published_4919: u64,
    pub(crate) totals: BTreeMap<(Unit, Epoch), GroupTotals>,
    pub(crate) act: Option<Act>,
    /// 4919 ids per (unit, epoch), kept only while a balance mismatch is pending.
    pub(crate) track: Option<BTreeMap<(Unit, Epoch), BTreeSet<EventId>>>,
    /// Live reviews by reviewer index: the rating, if any.
    pub(crate) reviews: BTreeMap<usize, Option<f64>>,
    pub(crate) cross_due: Option<CrossDue>,
    /// The key a mismatching 11467 names instead.
    pub(crate) other_pubkey: Option<Point>,
}

pub(crate) fn unit(name: &str) -> Unit {
    #[allow(clippy::expect_used)]
    Unit::parse(name).expect("the simulator's unit names are valid")
}

pub(crate) fn epoch(n: u64) -> Epoch {
    #[allow(clippy::expect_used)]
    Epoch::new(n).expect("simulated epochs stay far below 2^63")
}

pub(crate) fn draw_secret_key(rng: &mut ChaCha20Rng) -> SecretKey {
    loop {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        if let Ok(key) = SecretKey::from_slice(&bytes) {
            return key;
        }
    }
}

pub(crate) fn compressed(key: &SecretKey) -> Point {
    Point::from_public_key(&PublicKey::from_secret_key(SECP256K1, key))
}

/// `n` split over `lanes`: lane 0 takes the larger share.
pub(crate) fn share(n: usize, lane: usize, lanes: usize) -> usize {
    let small = n / (lanes + 1);
    if lane == 0 {
        n - small * (lanes - 1)
    } else {
        small
    }
}

impl MintState {
    pub(crate) fn new(
        index: usize,
        rng: &mut ChaCha20Rng,
        role: MintRole,
        plan: IdentityPlan,
        live_units: &[&str],
    ) -> Self {
        let secret = draw_secret_key(rng);
        let keys = Keys::new(secret.into());
        let pubkey = compressed(&secret);
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let label = match role {
            MintRole::Honest => "honest".to_string(),
            MintRole::Misbehaving(kind) => kind.as_str().to_string(),
            MintRole::CrossMintPartner => "cross-mint-partner".to_string(),
        };
        let lanes = live_units
            .iter()
            .map(|u| {
                let unit = unit(u);
                let k = keyset_key(&seed, &unit, epoch(0));
                Lane {
                    unit,
                    live: VecDeque::from([Cursor {
                        epoch: epoch(0),
                        k,
                        minted: 0,
                        burnt: 0,
                    }]),
                    last_fin: None,
                }
            })
            .collect();
        #[allow(clippy::expect_used)]
        let url = MintUrl::parse(&format!("https://mint{index}.sim.mintwatch.invalid"))
            .expect("the simulator's URLs are valid");
        Self {
            keys,
            key: pubkey.x_only(),
            pubkey,
            seed,
            name: format!("Sim Mint {index} ({label})"),
            url,
            role,
            plan,
            lanes,
            extra_units: Vec::new(),
            head: None,
            chain_len: 0,
            published_4919: 0,
            totals: BTreeMap::new(),
            act: None,
            track: None,
            reviews: BTreeMap::new(),
            cross_due: None,
            other_pubkey: None,
        }
    }

    pub(crate) fn units(&self) -> Vec<Unit> {
        self.lanes
            .iter()
            .map(|l| l.unit.clone())
            .chain(self.extra_units.iter().cloned())
            .collect()
    }

    pub(crate) fn current_epoch(&self, lane: usize) -> Epoch {
        self.lanes[lane].live.back().map_or(epoch(0), |c| c.epoch)
    }

    /// A MINT group of `tokens` signed with this mint's keyset for (unit, epoch).
    pub(crate) fn special_mint_group(
        &self,
        unit: &Unit,
        epoch: Epoch,
        tokens: &[Token],
    ) -> DataGroup {
        let k = keyset_key(&self.seed, unit, epoch);
        DataGroup {
            epoch,
            unit: unit.clone(),
            contents: GroupContents::Mint(tokens.iter().map(|t| t.mint_entry(&k)).collect()),
        }
    }

    /// This round's regular traffic: burns of tokens issued in earlier rounds (oldest epoch
    /// first), then new tokens in the current epoch.
    pub(crate) fn regular_groups(&mut self, mints: usize, burns: usize) -> Vec<DataGroup> {
        let mut groups = Vec::new();
        let lanes = self.lanes.len();
        let seed = self.seed;
        for (li, lane) in self.lanes.iter_mut().enumerate() {
            let mut left = share(burns, li, lanes) as u64;
            for cursor in lane.live.iter_mut() {
                let take = left.min(cursor.minted - cursor.burnt);
                if take == 0 {
                    continue;
                }
                let (start, unit, ep) = (cursor.burnt, &lane.unit, cursor.epoch);
                let entries: Vec<BurnEntry> = (0..take as usize)
                    .into_par_iter()
                    .map(|j| Token::regular(&seed, unit, ep, start + j as u64).burn_entry())
                    .collect();
                cursor.burnt += take;
                left -= take;
                groups.push(DataGroup {
                    epoch: ep,
                    unit: lane.unit.clone(),
                    contents: GroupContents::Burn(entries),
                });
            }
            let n = share(mints, li, lanes);
            if let Some(cursor) = lane.live.back_mut().filter(|_| n > 0) {
                let (start, unit, ep, k) = (cursor.minted, &lane.unit, cursor.epoch, cursor.k);
                let entries = (0..n)
                    .into_par_iter()
                    .map(|j| Token::regular_mint_entry(&seed, unit, ep, start + j as u64, &k))
                    .collect();
                cursor.minted += n as u64;
                groups.insert(
                    0,
                    DataGroup {
                        epoch: ep,
                        unit: lane.unit.clone(),
                        contents: GroupContents::Mint(entries),
                    },
                );
            }
        }
        groups
    }

    /// Counts a published 4919 in the totals (and the evidence tracker, if on).
    pub(crate) fn record(&mut self, groups: &[DataGroup], id: EventId) {
        self.published_4919 += 1;
        for g in groups.iter().filter(|g| !g.contents.is_empty()) {
            let totals = self.totals.entry((g.unit.clone(), g.epoch)).or_default();
            match &g.contents {
                GroupContents::Mint(entries) => {
                    totals.mint_count += entries.len() as u64;
                    totals.mint_amount += entries.iter().map(|e| e.amount.get()).sum::<u64>();
                }
                GroupContents::Burn(entries) => {
                    totals.burn_count += entries.len() as u64;
                    totals.burn_amount += entries.iter().map(|e| e.amount.get()).sum::<u64>();
                }
            }
            if let Some(track) = self.track.as_mut() {
                track
                    .entry((g.unit.clone(), g.epoch))
                    .or_default()
                    .insert(id);
            }
        }
    }

    pub(crate) fn identity_level(&self, started: bool) -> IdentityLevel {
        if !started {
            return IdentityLevel::Unbound;
        }
        match self.plan {
            IdentityPlan::Full | IdentityPlan::SelfSigned | IdentityPlan::SelfCompressed => {
                IdentityLevel::SelfSigned
            }
            IdentityPlan::OperatorOnly => IdentityLevel::Operator,
            IdentityPlan::Unbound => IdentityLevel::Unbound,
            IdentityPlan::MismatchOnly => match self.act.as_ref().map(|a| &a.stage) {
                Some(Stage::Done) => IdentityLevel::Mismatch,
                _ => IdentityLevel::Unbound,
            },
        }
    }

    pub(crate) fn stats(&self, started: bool) -> MintStats {
        let mut outstanding: BTreeMap<Unit, i128> = BTreeMap::new();
        for ((unit, _), totals) in &self.totals {
            *outstanding.entry(unit.clone()).or_default() += totals.outstanding();
        }
        let rated: Vec<f64> = self.reviews.values().filter_map(|r| *r).collect();
        MintStats {
            mint: self.key,
            pubkey: self.pubkey,
            name: self.name.clone(),
            url: self.url.clone(),
            role: self.role,
            identity: self.identity_level(started),
            groups: self.totals.clone(),
            outstanding,
            published_4919: self.published_4919,
            chain_len: self.chain_len,
            head: self.head,
            reviews: self.reviews.len(),
            distinct_reviewers: self.reviews.len(),
            rated_reviews: rated.len(),
            mean_rating: (!rated.is_empty())
                .then(|| rated.iter().sum::<f64>() / rated.len() as f64),
        }
    }
}
