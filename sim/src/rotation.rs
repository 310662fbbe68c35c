//! Key rotation: a mint closes the current epoch of every unit with a 1337 (its outstanding
//! balance, or a wrong one for a balance mismatch) and starts the next keyset.

use mintwatch_protocol::broadcast::FinEpoch;
use mintwatch_protocol::{kinds, FindingKind, SignedEvent};

use crate::config::BALANCE_ERROR;
use crate::mint::{epoch, Cursor, Stage};
use crate::simulator::{e_tags, Simulator};
use crate::truth::{ExpectedFinding, GroupTotals};
use crate::wallet::keyset_key;

impl Simulator {
    /// Closes the current epoch of every unit with a 1337 and starts the next keyset.
    pub(crate) fn rotate(&mut self, m: usize, wrong_sat: bool, t: u64, out: &mut Vec<SignedEvent>) {
        let live_epochs = self.config.live_epochs;
        for li in 0..self.mints[m].lanes.len() {
            let mint = &self.mints[m];
            let lane = &mint.lanes[li];
            let closing = mint.current_epoch(li);
            let truth = mint
                .totals
                .get(&(lane.unit.clone(), closing))
                .map_or(0, GroupTotals::outstanding);
            let truth = u64::try_from(truth).unwrap_or(0);
            let wrong = wrong_sat && li == 0;
            let fin = FinEpoch {
                epoch: closing,
                outstanding_balance: if wrong { truth + BALANCE_ERROR } else { truth },
                unit: lane.unit.clone(),
                prev: lane.last_fin,
            };
            let content = if closing.get() % 2 == 0 {
                fin.encode_content_json()
            } else {
                fin.encode_content_cbor()
            };
            let ev = self.sign(&mint.keys, kinds::FIN_EPOCH, content, e_tags(fin.prev), t);
            if wrong {
                let mut events = mint
                    .track
                    .as_ref()
                    .and_then(|t| t.get(&(lane.unit.clone(), closing)))
                    .cloned()
                    .unwrap_or_default();
                events.insert(ev.id);
                self.expected.push(ExpectedFinding {
                    kind: FindingKind::BalanceMismatch,
                    mint: mint.key,
                    events,
                    y: None,
                    unit: Some(lane.unit.clone()),
                    epoch: Some(closing),
                });
            }
            let seed = self.mints[m].seed;
            let lane = &mut self.mints[m].lanes[li];
            lane.last_fin = Some(ev.id);
            let next = epoch(closing.get() + 1);
            lane.live.push_back(Cursor {
                epoch: next,
                k: keyset_key(&seed, &lane.unit, next),
                minted: 0,
                burnt: 0,
            });
            while lane.live.len() > live_epochs {
                lane.live.pop_front();
            }
            out.push(ev);
        }
        if wrong_sat {
            // The evidence is taken; stop tracking.
            self.mints[m].track = None;
            self.set_stage(m, Stage::Done);
        }
    }
}
