//! `sent`: whether each payment this wallet sent has been redeemed, answered by a mintwatch
//! indexer from the mint's public spent-secret feed (4919) over nostr. The mint is never asked,
//! so it never learns which `Y`s the sender watches; each answer names the mint-signed 4919
//! events that prove it.

use std::collections::HashMap;

use mintwatch_protocol::Point;
use nostr::PublicKey;

use crate::error::WalletError;
use crate::home::WalletHome;
use crate::index::IndexClient;
use crate::records::SentRecord;

/// Most `Y`s asked in one `check_spent` (the query service's own bound is larger).
const YS_PER_QUERY: usize = 256;

/// A payment sent and what the index says of it.
#[derive(Debug, Clone)]
pub struct SentStatus {
    /// The payment.
    pub record: SentRecord,
    /// How many of its `Y`s the mint has published as spent.
    pub spent: usize,
    /// The mint-signed 4919 events (ids, hex) that publish them.
    pub proofs: Vec<String>,
}

impl SentStatus {
    /// Every proof spent: the receiver redeemed it (or the sender took it back).
    pub fn redeemed(&self) -> bool {
        !self.record.ys.is_empty() && self.spent == self.record.ys.len()
    }

    /// For a person: `redeemed (4919 <id>)`, `partly redeemed (k of n)` or `not redeemed`.
    pub fn verdict(&self) -> String {
        if self.redeemed() {
            format!("redeemed (4919 {})", self.proofs.join(" "))
        } else if self.spent > 0 {
            format!(
                "partly redeemed ({} of {})",
                self.spent,
                self.record.ys.len()
            )
        } else {
            "not redeemed".into()
        }
    }
}

/// Asks `index` about every payment in `sent.jsonl`, oldest first.
pub async fn sent_status(
    home: &WalletHome,
    index: &IndexClient,
) -> Result<Vec<SentStatus>, WalletError> {
    statuses(index, home.sent()?).await
}

/// What `index` says of one payment.
pub async fn status_of(index: &IndexClient, record: SentRecord) -> Result<SentStatus, WalletError> {
    let mut one = statuses(index, vec![record]).await?;
    one.pop()
        .ok_or_else(|| WalletError::Input("no status for the payment".into()))
}

/// What `index` says of `records`: the `Y`s of each mint asked together, each once, in
/// queries of at most [`YS_PER_QUERY`], whatever the number of payments.
pub async fn statuses(
    index: &IndexClient,
    records: Vec<SentRecord>,
) -> Result<Vec<SentStatus>, WalletError> {
    // Per mint, every Y asked and what the index says of it (the 4919 ids if burnt).
    let mut answers: HashMap<String, HashMap<String, Option<Vec<String>>>> = HashMap::new();
    for record in &records {
        let ys = answers.entry(record.mint.clone()).or_default();
        for y in &record.ys {
            ys.entry(y.clone()).or_insert(None);
        }
    }
    for (mint, ys) in answers.iter_mut() {
        let key = PublicKey::from_hex(mint)
            .map_err(|e| WalletError::Input(format!("sent.jsonl: mint {mint}: {e}")))?;
        let asked: Vec<String> = ys.keys().cloned().collect();
        for chunk in asked.chunks(YS_PER_QUERY) {
            let points = chunk
                .iter()
                .map(|y| Point::parse(y).map(|p| (p, y)))
                .collect::<Result<HashMap<_, _>, _>>()
                .map_err(|e| WalletError::Input(format!("sent.jsonl: a Y: {e}")))?;
            let answer = index
                .check_spent(points.keys().copied().collect(), Some(&key))
                .await?;
            for status in answer.results.into_iter().filter(|s| s.burnt) {
                if let Some(y) = points.get(&status.y) {
                    ys.insert((*y).clone(), Some(status.events));
                }
            }
        }
    }
    Ok(records
        .into_iter()
        .map(|record| {
            let mut spent = 0;
            let mut proofs: Vec<String> = Vec::new();
            let burnt = answers.get(&record.mint);
            for y in &record.ys {
                if let Some(Some(events)) = burnt.and_then(|ys| ys.get(y)) {
                    spent += 1;
                    for event in events {
                        if !proofs.contains(event) {
                            proofs.push(event.clone());
                        }
                    }
                }
            }
            SentStatus {
                record,
                spent,
                proofs,
            }
        })
        .collect())
}
