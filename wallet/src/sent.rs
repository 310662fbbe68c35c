//! `sent`: whether each payment this wallet sent has been redeemed, answered by a mintwatch
//! indexer from the mint's public spent-secret feed (4919) over nostr. The mint is never asked,
//! so it never learns which `Y`s the sender watches; each answer names the mint-signed 4919
//! events that prove it.

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
    let mut out = Vec::new();
    for record in home.sent()? {
        out.push(status_of(index, record).await?);
    }
    Ok(out)
}

/// What `index` says of one payment.
pub async fn status_of(index: &IndexClient, record: SentRecord) -> Result<SentStatus, WalletError> {
    let mint = PublicKey::from_hex(&record.mint)
        .map_err(|e| WalletError::Input(format!("sent.jsonl: mint {}: {e}", record.mint)))?;
    let ys = record
        .ys
        .iter()
        .map(|y| Point::parse(y))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| WalletError::Input(format!("sent.jsonl: a Y: {e}")))?;
    let mut spent = 0;
    let mut proofs: Vec<String> = Vec::new();
    for chunk in ys.chunks(YS_PER_QUERY) {
        let answer = index.check_spent(chunk.to_vec(), Some(&mint)).await?;
        for status in answer.results.into_iter().filter(|s| s.burnt) {
            spent += 1;
            for event in status.events {
                if !proofs.contains(&event) {
                    proofs.push(event);
                }
            }
        }
    }
    Ok(SentStatus {
        record,
        spent,
        proofs,
    })
}
