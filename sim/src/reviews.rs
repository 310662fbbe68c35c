//! Reviews (38000) by the simulated reviewers, in every rating style NIP-87 allows, and one NIP-09
//! deletion of the first review.

use std::collections::BTreeSet;

use rand::Rng;

use mintwatch_protocol::{kinds, SignedEvent};

use crate::identity;
use crate::mint::IdentityPlan;
use crate::simulator::Simulator;

impl Simulator {
    /// This round's reviews (and, in the round after the first review, its deletion).
    pub(crate) fn reviews(&mut self, r: u64, t: u64, out: &mut Vec<SignedEvent>) {
        if r > 0 && self.deleted.is_none() {
            if let Some((id, j, m)) = self.first_review {
                let ev = self.sign(
                    &self.reviewers[j],
                    kinds::DELETION,
                    "withdrawn".into(),
                    vec![
                        vec!["e".into(), id.to_hex()],
                        vec!["k".into(), kinds::RECOMMENDATION.to_string()],
                    ],
                    t,
                );
                self.mints[m].reviews.remove(&j);
                self.deleted = Some((j, m));
                out.push(ev);
            }
        }
        if self.reviewers.is_empty() || self.mints.is_empty() {
            return;
        }
        let mut this_round = BTreeSet::new();
        for n in 0..self.config.reviews_per_round {
            let j = self.rng.gen_range(0..self.reviewers.len());
            let m = self.rng.gen_range(0..self.mints.len());
            let style = self.rng.gen_range(0..10u8);
            let tenths = [10u8, 20, 30, 35, 40, 45, 50][self.rng.gen_range(0..7usize)];
            // One review per (author, mint) per round, so replacements never share a timestamp;
            // the deleted pair stays deleted.
            if self.deleted == Some((j, m)) || !this_round.insert((j, m)) {
                continue;
            }
            let mint = &self.mints[m];
            let rating = f64::from(tenths) / 10.0;
            let shown = if tenths % 10 == 0 {
                format!("{}", tenths / 10)
            } else {
                format!("{rating:.1}")
            };
            let announcer = match mint.plan {
                IdentityPlan::OperatorOnly => self.operator.public_key().to_hex(),
                _ => mint.key.to_hex(),
            };
            let mut tags = vec![
                vec!["d".into(), mint.key.to_hex()],
                vec!["k".into(), kinds::MINT_ANNOUNCEMENT.to_string()],
                vec!["u".into(), mint.url.as_str().into(), "cashu".into()],
                vec![
                    "a".into(),
                    identity::coordinate(&announcer, &mint.key),
                    String::new(),
                    "cashu".into(),
                ],
            ];
            let text = format!("Simulated review {r}.{n} of {}", mint.name);
            let (content, rated) = match style {
                0..=3 => {
                    tags.push(vec!["rating".into(), shown]);
                    (text, Some(rating))
                }
                4..=5 => {
                    tags.push(vec!["rating".into(), shown, "5".into()]);
                    (text, Some(rating))
                }
                6..=8 => (format!("[{shown}/5] {text}"), Some(rating)),
                _ => (text, None),
            };
            let ev = self.sign(&self.reviewers[j], kinds::RECOMMENDATION, content, tags, t);
            self.mints[m].reviews.insert(j, rated);
            if self.first_review.is_none() {
                self.first_review = Some((ev.id, j, m));
            }
            out.push(ev);
        }
    }
}
