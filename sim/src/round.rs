//! One mint's round: its main 4919 with whatever its misbehaviour adds, the events the
//! misbehaviour publishes beside it, the findings they prove, and the key rotation when due.

use std::collections::BTreeSet;

use mintwatch_protocol::broadcast::{CashuData, DataGroup, GroupContents, MintInfo};
use mintwatch_protocol::{kinds, Epoch, EventId, FindingKind, SignedEvent, Unit};

use crate::identity;
use crate::mint::{epoch, unit, CrossDue, Stage};
use crate::misbehaviour::MisbehaviourKind;
use crate::simulator::{e_tags, Simulator};
use crate::truth::ExpectedFinding;
use crate::wallet::Token;

/// What a misbehaviour does once the mint's main batch of the round is signed (given its id).
type Finish = Box<dyn FnOnce(&mut Simulator, EventId)>;

impl Simulator {
    /// One mint's events of round `r`: its 4919 (with whatever its misbehaviour adds), extra
    /// events, and 1337s when its keys rotate.
    pub(crate) fn mint_round(&mut self, m: usize, r: u64, t0: u64, out: &mut Vec<SignedEvent>) {
        let (mints_n, burns_n) = (self.config.mints_per_batch, self.config.burns_per_batch);
        let mut groups = self.mints[m].regular_groups(mints_n, burns_n);
        let sat = self.mints[m].lanes[0].unit.clone();
        let sat_epoch = self.mints[m].current_epoch(0);
        let tag = |what: &str| format!("{what}-{m}");
        let prev = self.mints[m].head;
        let mut prev_for_main = prev;
        let mut after: Vec<SignedEvent> = Vec::new();
        let mut force_rotation = false;

        let act = self.mints[m]
            .act
            .clone()
            .filter(|a| a.round <= r && a.stage != Stage::Done);
        // What the misbehaviour adds to the main batch, and what it must do once that is signed.
        let mut finish: Option<Finish> = None;
        if let Some(act) = act {
            let mint = &self.mints[m];
            match (act.kind, &act.stage) {
                (MisbehaviourKind::DoubleSpend, Stage::Waiting) => {
                    let s: Vec<Token> = (0..4)
                        .map(|n| Token::special(&self.seed, &tag("double-spend"), n))
                        .collect();
                    groups.push(mint.special_mint_group(&sat, sat_epoch, &s));
                    groups.push(burn_group(&sat, sat_epoch, [&s[0], &s[2], &s[2]]));
                    let (y_twice, unit, ep) = (s[2].y, sat.clone(), sat_epoch);
                    finish = Some(Box::new(move |sim: &mut Self, id| {
                        let key = sim.mints[m].key;
                        sim.expected.push(ExpectedFinding {
                            kind: FindingKind::DoubleSpend,
                            mint: key,
                            events: BTreeSet::from([id]),
                            y: Some(y_twice),
                            unit: None,
                            epoch: None,
                        });
                        sim.set_stage(
                            m,
                            Stage::Second {
                                first: id,
                                unit,
                                epoch: ep,
                            },
                        );
                    }));
                }
                (MisbehaviourKind::DoubleSpend, Stage::Second { first, unit, epoch }) => {
                    let s0 = Token::special(&self.seed, &tag("double-spend"), 0);
                    groups.push(burn_group(unit, *epoch, [&s0]));
                    let (first, y) = (*first, s0.y);
                    finish = Some(Box::new(move |sim: &mut Self, id| {
                        let key = sim.mints[m].key;
                        sim.expected.push(ExpectedFinding {
                            kind: FindingKind::DoubleSpend,
                            mint: key,
                            events: BTreeSet::from([first, id]),
                            y: Some(y),
                            unit: None,
                            epoch: None,
                        });
                        sim.set_stage(m, Stage::Done);
                    }));
                }
                (MisbehaviourKind::CrossMintCollision, Stage::Waiting) => {
                    let shared = Token::special(&self.seed, &tag("cross-mint"), 0);
                    let filler = Token::special(&self.seed, &tag("cross-mint-filler"), 0);
                    groups.push(mint.special_mint_group(&sat, sat_epoch, &[filler]));
                    groups.push(burn_group(&sat, sat_epoch, [&shared]));
                    finish = Some(Box::new(move |sim: &mut Self, id| {
                        let other = sim.mints[m].key;
                        // The partner is created right after this mint, so it plays later in
                        // the same round.
                        if let Some(partner) = sim.mints.get_mut(m + 1) {
                            partner.cross_due = Some(CrossDue {
                                token: shared,
                                other,
                                other_event: id,
                            });
                        }
                        sim.set_stage(m, Stage::Done);
                    }));
                }
                (MisbehaviourKind::Fork, Stage::Waiting) if prev.is_some() => {
                    let sibling = vec![mint.special_mint_group(
                        &sat,
                        sat_epoch,
                        &[Token::special(&self.seed, &tag("fork"), 0)],
                    )];
                    finish = Some(Box::new(move |sim: &mut Self, id| {
                        let b = sim.publish_4919(m, sibling, prev, t0 + 2, false);
                        let key = sim.mints[m].key;
                        sim.expected.push(ExpectedFinding {
                            kind: FindingKind::Fork,
                            mint: key,
                            events: BTreeSet::from([id, b.id]),
                            y: None,
                            unit: None,
                            epoch: None,
                        });
                        sim.set_stage(m, Stage::Done);
                        sim.pending_out.push(b);
                    }));
                }
                (MisbehaviourKind::Gap, Stage::Waiting) => {
                    let hidden = CashuData {
                        groups: vec![mint.special_mint_group(
                            &sat,
                            sat_epoch,
                            &[Token::special(&self.seed, &tag("gap"), 0)],
                        )],
                        prev,
                    };
                    let never_published = self.sign(
                        &mint.keys,
                        kinds::CASHU_DATA,
                        hidden.encode_content(),
                        e_tags(prev),
                        t0 + 1,
                    );
                    prev_for_main = Some(never_published.id);
                    finish = Some(Box::new(move |sim: &mut Self, id| {
                        let key = sim.mints[m].key;
                        sim.expected.push(ExpectedFinding {
                            kind: FindingKind::Gap,
                            mint: key,
                            events: BTreeSet::from([id]),
                            y: None,
                            unit: None,
                            epoch: None,
                        });
                        sim.set_stage(m, Stage::Done);
                    }));
                }
                (MisbehaviourKind::LiabilityInversion, Stage::Waiting) => {
                    let (eur, ep) = (unit("eur"), epoch(0));
                    let l: Vec<Token> = (0..2)
                        .map(|n| Token::special(&self.seed, &tag("liability"), n))
                        .collect();
                    groups.push(mint.special_mint_group(&eur, ep, &l));
                    finish = Some(Box::new(move |sim: &mut Self, id| {
                        sim.set_stage(
                            m,
                            Stage::Second {
                                first: id,
                                unit: eur,
                                epoch: ep,
                            },
                        );
                    }));
                }
                (MisbehaviourKind::LiabilityInversion, Stage::Second { first, unit, epoch }) => {
                    let l: Vec<Token> = (0..3)
                        .map(|n| Token::special(&self.seed, &tag("liability"), n))
                        .collect();
                    groups.push(burn_group(unit, *epoch, l.iter()));
                    let (first, unit, ep) = (*first, unit.clone(), *epoch);
                    finish = Some(Box::new(move |sim: &mut Self, id| {
                        let key = sim.mints[m].key;
                        sim.expected.push(ExpectedFinding {
                            kind: FindingKind::LiabilityInversion,
                            mint: key,
                            events: BTreeSet::from([first, id]),
                            y: None,
                            unit: Some(unit),
                            epoch: Some(ep),
                        });
                        sim.set_stage(m, Stage::Done);
                    }));
                }
                (MisbehaviourKind::BalanceMismatch, Stage::Waiting) => force_rotation = true,
                (MisbehaviourKind::IdentityMismatch, Stage::Waiting) => {
                    if let Some(other) = mint.other_pubkey {
                        let content = MintInfo::encode_content(&identity::info_json(
                            &mint.name,
                            &other,
                            &mint.url,
                            &mint.units(),
                        ));
                        let ev = self.sign(&mint.keys, kinds::MINT_INFO, content, Vec::new(), t0);
                        self.expected.push(ExpectedFinding {
                            kind: FindingKind::IdentityMismatch,
                            mint: mint.key,
                            events: BTreeSet::from([ev.id]),
                            y: None,
                            unit: None,
                            epoch: None,
                        });
                        out.push(ev);
                    }
                    self.set_stage(m, Stage::Done);
                }
                (MisbehaviourKind::Forged, Stage::Waiting) if prev.is_some() => {
                    after.extend(self.forged_events(m, prev, t0 + 2));
                    self.set_stage(m, Stage::Done);
                }
                (MisbehaviourKind::Malformed, Stage::Waiting) => {
                    after.extend(self.malformed_events(m, sat_epoch, t0 + 2));
                    self.set_stage(m, Stage::Done);
                }
                _ => {}
            }
        }

        let cross = self.mints[m].cross_due.take();
        if let Some(due) = &cross {
            groups.push(self.mints[m].special_mint_group(
                &sat,
                sat_epoch,
                std::slice::from_ref(&due.token),
            ));
            groups.push(burn_group(&sat, sat_epoch, [&due.token]));
        }

        let main = self.publish_4919(m, groups, prev_for_main, t0 + 1, true);
        let main_id = main.id;
        out.push(main);
        if let Some(finish) = finish {
            finish(self, main_id);
        }
        out.append(&mut self.pending_out);
        out.append(&mut after);
        if let Some(due) = cross {
            let me = self.mints[m].key;
            for mint in [due.other, me] {
                self.expected.push(ExpectedFinding {
                    kind: FindingKind::CrossMintCollision,
                    mint,
                    events: BTreeSet::from([due.other_event, main_id]),
                    y: Some(due.token.y),
                    unit: None,
                    epoch: None,
                });
            }
        }

        let every = self.config.rotate_every;
        let due = every > 0 && r > 0 && (r + m as u64) % every == 0;
        if due || force_rotation {
            self.rotate(m, force_rotation, t0 + 3, out);
        }
    }
}

fn burn_group<'a>(
    unit: &Unit,
    epoch: Epoch,
    tokens: impl IntoIterator<Item = &'a Token>,
) -> DataGroup {
    DataGroup {
        epoch,
        unit: unit.clone(),
        contents: GroupContents::Burn(tokens.into_iter().map(Token::burn_entry).collect()),
    }
}
