//! The [`Simulator`]: the population of mints, the operator and the reviewers, played round by
//! round; identities at round 0, then each mint's round, then the reviews.

use std::collections::{BTreeMap, BTreeSet};

use nostr::Keys;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

use mintwatch_protocol::broadcast::{CashuData, DataGroup, MintInfo};
use mintwatch_protocol::{kinds, EventId, MintKey, SignedEvent};

use crate::config::{SimConfig, SimConfigError};
use crate::identity;
use crate::mint::{compressed, draw_secret_key, unit, Act, IdentityPlan, MintState, Stage};
use crate::misbehaviour::MisbehaviourKind;
use crate::signing::sign;
use crate::truth::{ExpectedFinding, MintRole, MintStats, Reject, Simulation};
use crate::wallet::Wallet;

/// The simulator: call [`Simulator::next_round`] for as long as events are wanted.
#[derive(Debug)]
pub struct Simulator {
    pub(crate) config: SimConfig,
    /// Seeds special tokens and signing aux randomness.
    pub(crate) seed: [u8; 32],
    pub(crate) rng: ChaCha20Rng,
    pub(crate) round: u64,
    pub(crate) mints: Vec<MintState>,
    pub(crate) operator: Keys,
    pub(crate) reviewers: Vec<Keys>,
    pub(crate) expected: Vec<ExpectedFinding>,
    pub(crate) rejects: Vec<Reject>,
    /// The first review ever published (id, reviewer, mint): the one that gets deleted.
    pub(crate) first_review: Option<(EventId, usize, usize)>,
    pub(crate) deleted: Option<(usize, usize)>,
    /// Events a misbehaviour produced after the main batch of the mint being played.
    pub(crate) pending_out: Vec<SignedEvent>,
}

impl Simulator {
    /// A simulator for `config`; mints, operator and reviewers get their keys now.
    pub fn new(config: SimConfig) -> Result<Self, SimConfigError> {
        config.validate()?;
        let mut rng = ChaCha20Rng::seed_from_u64(config.seed);
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let regular = ["sat", "usd"];
        let mut mints = Vec::new();
        for i in 0..config.honest_mints {
            let plan = match i % 4 {
                0 => IdentityPlan::Full,
                1 => IdentityPlan::SelfCompressed,
                2 => IdentityPlan::OperatorOnly,
                _ => IdentityPlan::Unbound,
            };
            mints.push(MintState::new(
                mints.len(),
                &mut rng,
                MintRole::Honest,
                plan,
                &regular,
            ));
        }
        for m in &config.misbehaviours {
            let plan = if m.kind == MisbehaviourKind::IdentityMismatch {
                IdentityPlan::MismatchOnly
            } else {
                IdentityPlan::SelfSigned
            };
            let mut state = MintState::new(
                mints.len(),
                &mut rng,
                MintRole::Misbehaving(m.kind),
                plan,
                &regular,
            );
            state.act = Some(Act {
                kind: m.kind,
                round: m.round,
                stage: Stage::Waiting,
            });
            match m.kind {
                MisbehaviourKind::IdentityMismatch => {
                    state.other_pubkey = Some(compressed(&draw_secret_key(&mut rng)));
                }
                MisbehaviourKind::LiabilityInversion => state.extra_units.push(unit("eur")),
                MisbehaviourKind::BalanceMismatch => state.track = Some(BTreeMap::new()),
                _ => {}
            }
            mints.push(state);
            if m.kind == MisbehaviourKind::CrossMintCollision {
                mints.push(MintState::new(
                    mints.len(),
                    &mut rng,
                    MintRole::CrossMintPartner,
                    IdentityPlan::SelfSigned,
                    &regular,
                ));
            }
        }
        let operator = Keys::new(draw_secret_key(&mut rng).into());
        let reviewers = (0..config.reviewers)
            .map(|_| Keys::new(draw_secret_key(&mut rng).into()))
            .collect();
        Ok(Self {
            config,
            seed,
            rng,
            round: 0,
            mints,
            operator,
            reviewers,
            expected: Vec::new(),
            rejects: Vec::new(),
            first_review: None,
            deleted: None,
            pending_out: Vec::new(),
        })
    }

    /// Plays `config.rounds` rounds and returns everything.
    pub fn run(config: SimConfig) -> Result<Simulation, SimConfigError> {
        let rounds = config.rounds;
        let mut sim = Self::new(config)?;
        let mut events = Vec::new();
        for _ in 0..rounds {
            events.extend(sim.next_round());
        }
        Ok(Simulation {
            events,
            expected: sim.expected.clone(),
            rejects: sim.rejects.clone(),
            stats: sim.stats(),
            wallet: sim.wallet(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The next round to be played (0 before the first call to [`Simulator::next_round`]).
    pub fn round(&self) -> u64 {
        self.round
    }

    /// The operator key that announces some mints.
    pub fn operator(&self) -> MintKey {
        #[allow(clippy::expect_used)]
        MintKey::from_x_only_bytes(self.operator.public_key().to_bytes())
            .expect("a nostr public key is a valid x-only key")
    }

    /// The findings proven by the events published so far (a two-round misbehaviour appears
    /// once its second round is played).
    pub fn expected_findings(&self) -> &[ExpectedFinding] {
        &self.expected
    }

    /// The events published so far that must be rejected.
    pub fn rejects(&self) -> &[Reject] {
        &self.rejects
    }

    /// Statistics per mint over the events published so far.
    pub fn stats(&self) -> BTreeMap<MintKey, MintStats> {
        self.mints
            .iter()
            .map(|m| (m.key, m.stats(self.round > 0)))
            .collect()
    }

    /// The wallets' secrets (for tests that unblind signatures).
    pub fn wallet(&self) -> Wallet {
        let mut wallet = Wallet::default();
        for m in &self.mints {
            wallet.insert(m.key, m.seed);
        }
        wallet
    }

    /// The size of the state that a long run carries from round to round besides the
    /// statistics: live keysets, pending misbehaviour memory and tracked evidence ids. It does not
    /// grow with the number of rounds. (The statistics grow by one entry per unit per key
    /// rotation, and the review map up to reviewers × mints.)
    pub fn working_set_len(&self) -> usize {
        self.mints
            .iter()
            .map(|m| {
                let cursors: usize = m.lanes.iter().map(|l| l.live.len()).sum();
                let tracked: usize = m
                    .track
                    .as_ref()
                    .map_or(0, |t| t.values().map(BTreeSet::len).sum());
                let pending = m
                    .act
                    .as_ref()
                    .is_some_and(|a| matches!(a.stage, Stage::Second { .. }))
                    as usize
                    + m.cross_due.is_some() as usize;
                cursors + tracked + pending
            })
            .sum()
    }

    /// Plays one round and returns its events in publication order.
    pub fn next_round(&mut self) -> Vec<SignedEvent> {
        let r = self.round;
        let t0 = self.config.start_time + r * self.config.round_interval_secs;
        let mut out = Vec::new();
        if r == 0 {
            for m in 0..self.mints.len() {
                self.identity_events(m, t0, &mut out);
            }
        }
        for m in 0..self.mints.len() {
            self.mint_round(m, r, t0, &mut out);
        }
        self.reviews(r, t0 + 4, &mut out);
        self.round += 1;
        out
    }

    pub(crate) fn sign(
        &self,
        keys: &Keys,
        kind: u16,
        content: String,
        tags: Vec<Vec<String>>,
        t: u64,
    ) -> SignedEvent {
        sign(&self.seed, keys, kind, content, tags, t)
    }

    pub(crate) fn identity_events(&self, m: usize, t: u64, out: &mut Vec<SignedEvent>) {
        let mint = &self.mints[m];
        let info = || {
            MintInfo::encode_content(&identity::info_json(
                &mint.name,
                &mint.pubkey,
                &mint.url,
                &mint.units(),
            ))
        };
        let announce = |keys: &Keys, d: String| {
            self.sign(
                keys,
                kinds::MINT_ANNOUNCEMENT,
                identity::announcement_content(&mint.name),
                identity::announcement_tags(d, &mint.url),
                t,
            )
        };
        match mint.plan {
            IdentityPlan::Full | IdentityPlan::SelfSigned => {
                out.push(self.sign(&mint.keys, kinds::MINT_INFO, info(), Vec::new(), t));
                out.push(announce(&mint.keys, mint.key.to_hex()));
            }
            IdentityPlan::SelfCompressed => out.push(announce(&mint.keys, mint.pubkey.to_hex())),
            IdentityPlan::OperatorOnly | IdentityPlan::Unbound | IdentityPlan::MismatchOnly => {}
        }
        if matches!(mint.plan, IdentityPlan::Full | IdentityPlan::OperatorOnly) {
            out.push(announce(&self.operator, mint.key.to_hex()));
        }
    }

    pub(crate) fn set_stage(&mut self, m: usize, stage: Stage) {
        if let Some(act) = self.mints[m].act.as_mut() {
            act.stage = stage;
        }
    }

    /// Signs a 4919 of mint `m` and counts it. `main` events extend the chain.
    pub(crate) fn publish_4919(
        &mut self,
        m: usize,
        groups: Vec<DataGroup>,
        prev: Option<EventId>,
        t: u64,
        main: bool,
    ) -> SignedEvent {
        let data = CashuData { groups, prev };
        let ev = self.sign(
            &self.mints[m].keys,
            kinds::CASHU_DATA,
            data.encode_content(),
            e_tags(prev),
            t,
        );
        let mint = &mut self.mints[m];
        mint.record(&data.groups, ev.id);
        if main {
            mint.chain_len = match prev {
                Some(p) if Some(p) == mint.head => mint.chain_len + 1,
                // A first batch, or one whose predecessor is never published (a gap).
                _ => 1,
            };
            mint.head = Some(ev.id);
        }
        ev
    }
}

pub(crate) fn e_tags(prev: Option<EventId>) -> Vec<Vec<String>> {
    prev.map(|p| vec!["e".to_string(), p.to_hex()])
        .into_iter()
        .collect()
}
