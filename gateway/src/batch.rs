//! Packing entries into 4919 contents under the limits of PROTOCOL.md §2.2: at most
//! [`MAX_BATCH_ENTRIES`] entries and a signed event of at most the byte budget (never above
//! [`MAX_EVENT_JSON_BYTES`]). Sizes are counted as the encoder writes them (CBOR, then base64),
//! from above, so a full batch always fits.

use mintwatch_protocol::broadcast::{BurnEntry, CashuData, DataGroup, GroupContents, MintEntry};
use mintwatch_protocol::kinds::{MAX_BATCH_ENTRIES, MAX_EVENT_JSON_BYTES};
use mintwatch_protocol::types::{Epoch, Unit};

/// Bytes of a signed event's JSON besides its content: id, pubkey, sig, kind, created_at and an
/// `e` tag take about 400; the rest is margin.
pub const EVENT_OVERHEAD_BYTES: usize = 1_024;

/// The largest content budget: the protocol's event limit less [`EVENT_OVERHEAD_BYTES`].
pub const MAX_CONTENT_BYTES: usize = MAX_EVENT_JSON_BYTES - EVENT_OVERHEAD_BYTES;

/// CBOR bytes of an unsigned integer.
fn uint_len(v: u64) -> usize {
    match v {
        0..=23 => 1,
        24..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// CBOR bytes of a text string of `n` bytes.
fn text_len(n: usize) -> usize {
    uint_len(n as u64) + n
}

/// A BURN entry: `{"Y": hex66, "amount": n}`.
fn burn_len(amount: u64) -> usize {
    1 + text_len(1) + text_len(66) + text_len(6) + uint_len(amount)
}

/// A MINT entry: `{"B_": hex66, "C_": hex66, "amount": n}`.
fn mint_len(amount: u64) -> usize {
    1 + 2 * (text_len(2) + text_len(66)) + text_len(6) + uint_len(amount)
}

/// A group without its entries: `{"epoch", "event", "unit", "contents": [..]}`, counting the
/// array header at its largest.
fn group_len(unit: &Unit, epoch: Epoch) -> usize {
    1 + text_len(5)
        + uint_len(epoch.get())
        + text_len(5)
        + text_len(4)
        + text_len(4)
        + text_len(unit.as_str().len())
        + text_len(8)
        + 9
}

/// base64 (padded) length of `n` bytes.
fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// Entries of one 4919 being filled: MINT groups first, then BURN groups, each group one
/// (unit, epoch).
#[derive(Debug)]
pub struct Batch {
    mints: Vec<(Unit, Epoch, Vec<MintEntry>)>,
    burns: Vec<(Unit, Epoch, Vec<BurnEntry>)>,
    entries: usize,
    /// Upper bound of the CBOR bytes so far (the outer array header at its largest).
    cbor: usize,
    budget: usize,
}

impl Batch {
    /// An empty batch whose content stays within `content_budget` bytes (capped at
    /// [`MAX_CONTENT_BYTES`]).
    pub fn new(content_budget: usize) -> Self {
        Batch {
            mints: Vec::new(),
            burns: Vec::new(),
            entries: 0,
            cbor: 9,
            budget: content_budget.min(MAX_CONTENT_BYTES),
        }
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Entries added.
    pub fn len(&self) -> usize {
        self.entries
    }

    fn fits(&self, extra: usize) -> bool {
        self.entries < MAX_BATCH_ENTRIES && base64_len(self.cbor + extra) <= self.budget
    }

    /// Adds a MINT entry unless the batch is full (then returns false and adds nothing).
    pub fn push_mint(&mut self, unit: &Unit, epoch: Epoch, entry: MintEntry) -> bool {
        let entry_len = mint_len(entry.amount.get());
        push(
            &mut self.mints,
            &mut self.cbor,
            &mut self.entries,
            self.budget,
            (unit, epoch),
            entry,
            entry_len,
        )
    }

    /// Adds a BURN entry unless the batch is full.
    pub fn push_burn(&mut self, unit: &Unit, epoch: Epoch, entry: BurnEntry) -> bool {
        let entry_len = burn_len(entry.amount.get());
        push(
            &mut self.burns,
            &mut self.cbor,
            &mut self.entries,
            self.budget,
            (unit, epoch),
            entry,
            entry_len,
        )
    }

    /// Whether an entry of the largest size still fits (callers flush when it does not).
    pub fn has_room(&self) -> bool {
        self.fits(mint_len(u64::MAX) + 64)
    }

    /// The 4919 content (MINT groups, then BURN groups) and the per-(unit, epoch) sums
    /// `(unit, epoch, minted, burnt)`; empties the batch.
    pub fn take(&mut self, prev: Option<mintwatch_protocol::EventId>) -> (CashuData, Vec<Sums>) {
        let mut sums: Vec<Sums> = Vec::new();
        let mut add = |unit: &Unit, epoch: Epoch, minted: u64, burnt: u64| match sums
            .iter_mut()
            .find(|s| &s.unit == unit && s.epoch == epoch)
        {
            Some(s) => {
                s.minted = s.minted.saturating_add(minted);
                s.burnt = s.burnt.saturating_add(burnt);
            }
            None => sums.push(Sums {
                unit: unit.clone(),
                epoch,
                minted,
                burnt,
            }),
        };
        let mut groups = Vec::new();
        for (unit, epoch, entries) in self.mints.drain(..) {
            add(
                &unit,
                epoch,
                saturating_sum(entries.iter().map(|e| e.amount.get())),
                0,
            );
            groups.push(DataGroup {
                epoch,
                unit,
                contents: GroupContents::Mint(entries),
            });
        }
        for (unit, epoch, entries) in self.burns.drain(..) {
            add(
                &unit,
                epoch,
                0,
                saturating_sum(entries.iter().map(|e| e.amount.get())),
            );
            groups.push(DataGroup {
                epoch,
                unit,
                contents: GroupContents::Burn(entries),
            });
        }
        self.entries = 0;
        self.cbor = 9;
        (CashuData { groups, prev }, sums)
    }
}

/// Amounts are below 2^63 each, but a hostile database can make their sum overflow.
fn saturating_sum(amounts: impl Iterator<Item = u64>) -> u64 {
    amounts.fold(0, u64::saturating_add)
}

/// Amounts of one (unit, epoch) in one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sums {
    /// Unit.
    pub unit: Unit,
    /// Epoch.
    pub epoch: Epoch,
    /// MINT amounts.
    pub minted: u64,
    /// BURN amounts.
    pub burnt: u64,
}

fn push<E>(
    groups: &mut Vec<(Unit, Epoch, Vec<E>)>,
    cbor: &mut usize,
    entries: &mut usize,
    budget: usize,
    (unit, epoch): (&Unit, Epoch),
    entry: E,
    entry_len: usize,
) -> bool {
    let found = groups.iter().position(|(u, e, _)| u == unit && *e == epoch);
    let extra = entry_len + found.map_or_else(|| group_len(unit, epoch), |_| 0);
    if *entries >= MAX_BATCH_ENTRIES || base64_len(*cbor + extra) > budget {
        return false;
    }
    *cbor += extra;
    *entries += 1;
    match found {
        Some(i) => groups[i].2.push(entry),
        None => groups.push((unit.clone(), epoch, vec![entry])),
    }
    true
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use mintwatch_protocol::types::{Amount, Point};

    fn point(i: u64) -> Point {
        // Distinct valid points: i·G.
        let mut secret = [0u8; 32];
        secret[24..].copy_from_slice(&(i + 1).to_be_bytes());
        let sk = secp256k1::SecretKey::from_slice(&secret).expect("secret");
        Point::from_public_key(&sk.public_key(secp256k1::SECP256K1))
    }

    #[test]
    fn a_full_batch_encodes_within_its_budget_and_decodes_to_its_entries() {
        for budget in [4_096, 64 * 1024, MAX_CONTENT_BYTES] {
            let mut batch = Batch::new(budget);
            let sat = Unit::parse("sat").expect("unit");
            let usd = Unit::parse("usd").expect("unit");
            let mut i = 0u64;
            loop {
                let unit = if i % 3 == 0 { &usd } else { &sat };
                let epoch = Epoch::new(i % 2).expect("epoch");
                let amount = Amount::new(1 << (i % 63)).expect("amount");
                let ok = if i % 2 == 0 {
                    batch.push_burn(
                        unit,
                        epoch,
                        BurnEntry {
                            y: point(i),
                            amount,
                        },
                    )
                } else {
                    batch.push_mint(
                        unit,
                        epoch,
                        MintEntry {
                            b_: point(i),
                            c_: point(i + 1_000_000),
                            amount,
                        },
                    )
                };
                if !ok {
                    break;
                }
                i += 1;
            }
            let n = batch.len();
            assert!(n > 0 && n <= MAX_BATCH_ENTRIES);
            let (data, sums) = batch.take(None);
            let content = data.encode_content();
            assert!(content.len() <= budget, "{} > {budget}", content.len());
            // Nearly full: the estimate is tight, not wasteful (within two MINT entries).
            assert!(
                content.len() + 2 * 4 * mint_len(u64::MAX).div_ceil(3) >= budget,
                "{} of {budget}",
                content.len()
            );
            let back = CashuData::decode_content(&content).expect("decodes");
            assert_eq!(back, data.groups);
            assert_eq!(data.entry_count(), n);
            assert!(!sums.is_empty());
            // MINT groups come before BURN groups.
            let first_burn = back
                .iter()
                .position(|g| matches!(g.contents, GroupContents::Burn(_)));
            let last_mint = back
                .iter()
                .rposition(|g| matches!(g.contents, GroupContents::Mint(_)));
            if let (Some(b), Some(m)) = (first_burn, last_mint) {
                assert!(m < b);
            }
            assert!(batch.is_empty());
        }
    }

    #[test]
    fn the_entry_limit_holds_with_tiny_entries() {
        let mut batch = Batch::new(MAX_CONTENT_BYTES);
        let sat = Unit::parse("sat").expect("unit");
        let epoch = Epoch::new(0).expect("epoch");
        let y = point(7);
        let amount = Amount::new(1).expect("amount");
        let mut n = 0;
        while batch.push_burn(&sat, epoch, BurnEntry { y, amount }) {
            n += 1;
        }
        assert!(n <= MAX_BATCH_ENTRIES);
        assert!(base64_len(9 + n * burn_len(1)) <= MAX_CONTENT_BYTES);
    }
}
