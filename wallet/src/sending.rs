//! Taking ecash out of the wallet for someone else: proofs worth exactly the amount the
//! receiver gets (the receiver's swap fee is paid by the sender, as NUT-18 asks), optionally
//! locked (NUT-10/11), and the record `sent` later asks about.

use cdk::nuts::{Proofs, SpendingConditions, Token};
use cdk::wallet::SendOptions;
use cdk::Amount;
use cdk_common::database::WalletDatabase;

use crate::error::WalletError;
use crate::home::{MintSession, WalletHome, CONNECT_WAIT};
use crate::records::{SentHow, SentRecord};
use crate::rpc::Relays;

/// Ecash taken out of the wallet, not yet delivered.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The token (its mint is `nmc://<key>`).
    pub token: Token,
    /// Its proofs.
    pub proofs: Proofs,
    /// Their `Y`s, compressed hex.
    pub ys: Vec<String>,
    /// Sat the receiver gets.
    pub amount: u64,
}

impl Outgoing {
    /// The record of this payment, sent as `how` under `id` to `to`.
    pub fn record(
        &self,
        session: &MintSession,
        how: SentHow,
        id: String,
        to: Option<String>,
    ) -> SentRecord {
        SentRecord {
            id,
            at: now(),
            how,
            amount: self.amount,
            mint: session.connector.mint().to_hex(),
            to,
            ys: self.ys.clone(),
            token: self.token.to_string(),
        }
    }
}

/// Unix seconds.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Takes `amount` sat out of the wallet at `session`'s mint (swapping at the mint when the
/// wallet has no exact proofs), with the receiver's input fee included, locked by
/// `conditions` if given.
pub async fn take_out(
    home: &WalletHome,
    session: &MintSession,
    amount: u64,
    conditions: Option<SpendingConditions>,
) -> Result<Outgoing, WalletError> {
    let prepared = session
        .wallet
        .prepare_send(
            Amount::from(amount),
            SendOptions {
                conditions,
                include_fee: true,
                ..Default::default()
            },
        )
        .await?;
    let token = prepared.confirm(None).await?;
    let keysets = home
        .database()
        .get_mint_keysets(session.wallet.mint_url.clone())
        .await
        .map_err(|e| WalletError::Cashu(e.into()))?
        .unwrap_or_default();
    let proofs = token.proofs(&keysets).map_err(cdk::Error::from)?;
    let ys = proofs
        .iter()
        .map(|p| p.y().map(|y| y.to_hex()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(cdk::Error::from)?;
    Ok(Outgoing {
        token,
        proofs,
        ys,
        amount,
    })
}

/// Records `record` as sent, then publishes `event` (the payment) to `relays`. The record comes
/// first: a payment no relay took is still in `sent.jsonl` with its token, and the error says so.
pub async fn record_and_deliver(
    home: &WalletHome,
    record: SentRecord,
    event: &nostr::Event,
    relays: &[String],
) -> Result<SentRecord, WalletError> {
    home.record_sent(&record)?;
    let delivered = match Relays::connect(relays, CONNECT_WAIT).await {
        Ok(pool) => pool.send(event, &[]).await,
        Err(e) => Err(e),
    };
    delivered.map_err(|e| {
        WalletError::Input(format!(
            "the {} was not delivered ({e}); its token is kept in sent.jsonl: {}",
            record.how.as_str(),
            record.token
        ))
    })?;
    Ok(record)
}
