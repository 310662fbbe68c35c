//! NUT-18 payment requests over nostr (NMC.md §6): the receiver prints a `creqA…` whose
//! transport is an nprofile of a fresh receiving key and its relays; the payer sends a
//! `PaymentRequestPayload` as a NIP-17 direct message (a kind-14 rumor in a NIP-59 gift wrap,
//! kind 1059) from a fresh key, so neither side's long-lived nostr key is involved.

use std::str::FromStr;

use cdk::nuts::{
    CurrencyUnit, Nut10Secret, PaymentRequest, PaymentRequestPayload, SpendingConditions,
    Transport, TransportType,
};
use cdk::Amount;
use nostr::nips::nip19::{FromBech32, Nip19Profile, ToBech32};
use nostr::{EventBuilder, Keys, Kind, PublicKey, RelayUrl, Tag};

use crate::connector::{mint_of_url, mint_url_of};
use crate::error::WalletError;
use crate::home::{MintSession, WalletHome};
use crate::records::{OpenRequest, SentHow, SentRecord};
use crate::sending::{now, record_and_deliver, take_out};

/// A request made: what to show the payer, and its receiving key.
#[derive(Debug, Clone)]
pub struct MadeRequest {
    /// `creqA…`.
    pub encoded: String,
    /// The fresh key the payment is gift-wrapped to.
    pub receiver: PublicKey,
    /// Its payment id.
    pub id: String,
}

/// Makes a request for `amount` sat (any amount when `None`) payable at one of `mints`,
/// delivered through `relays`, and remembers its receiving key for `listen`.
pub fn make_request(
    home: &WalletHome,
    amount: Option<u64>,
    mints: &[PublicKey],
    relays: &[String],
    description: Option<String>,
) -> Result<MadeRequest, WalletError> {
    if relays.is_empty() {
        return Err(WalletError::Input(
            "a request needs the relays it is paid through (--relay <url>)".into(),
        ));
    }
    if mints.is_empty() {
        return Err(WalletError::Input(
            "a request names the mints it accepts: add a mint first".into(),
        ));
    }
    let relay_urls = relays
        .iter()
        .map(|r| RelayUrl::parse(r).map_err(|e| WalletError::Input(format!("relay {r}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let keys = Keys::generate();
    let target = Nip19Profile::new(keys.public_key(), relay_urls)
        .to_bech32()
        .map_err(|e| WalletError::Input(format!("nprofile: {e}")))?;
    let id = hex_id(&keys.public_key().to_bytes()[..8]);
    let request = PaymentRequest {
        payment_id: Some(id.clone()),
        amount: amount.map(Amount::from),
        unit: Some(CurrencyUnit::Sat),
        single_use: Some(true),
        mints: mints.iter().map(mint_url_of).collect(),
        mint_preferred: None,
        supported_methods: Vec::new(),
        description,
        transports: vec![Transport {
            _type: TransportType::Nostr,
            target,
            tags: vec![vec!["n".into(), "17".into()]],
        }],
        nut10: None,
    };
    home.save_request(&OpenRequest {
        id: id.clone(),
        secret: keys.secret_key().to_secret_hex(),
        amount,
        mints: mints.iter().map(PublicKey::to_hex).collect(),
        relays: relays.to_vec(),
        created_at: now(),
    })?;
    Ok(MadeRequest {
        encoded: request.to_string(),
        receiver: keys.public_key(),
        id,
    })
}

fn hex_id(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a request asks of this wallet, checked before any ecash leaves it.
#[derive(Debug, Clone)]
pub struct PayPlan {
    /// The request.
    pub request: PaymentRequest,
    /// Sat to pay.
    pub amount: u64,
    /// The mint to pay at: one this wallet has and the request accepts.
    pub mint: PublicKey,
    /// The receiving key.
    pub receiver: PublicKey,
    /// Where to deliver.
    pub relays: Vec<String>,
}

/// Reads `encoded` and picks the mint to pay at from `ours` (this wallet's mints, the preferred
/// `chosen` first); `amount` is needed when the request names none.
pub fn plan_payment(
    encoded: &str,
    ours: &[PublicKey],
    chosen: Option<PublicKey>,
    amount: Option<u64>,
) -> Result<PayPlan, WalletError> {
    let request = PaymentRequest::from_str(encoded.trim())
        .map_err(|e| WalletError::Input(format!("not a payment request: {e}")))?;
    if let Some(unit) = &request.unit {
        if unit != &CurrencyUnit::Sat {
            return Err(WalletError::Input(format!(
                "the request is in {unit}; this wallet holds sat"
            )));
        }
    }
    let amount = match (request.amount, amount) {
        (Some(asked), _) => u64::from(asked),
        (None, Some(given)) => given,
        (None, None) => {
            return Err(WalletError::Input(
                "the request names no amount: give one (--amount <sat>)".into(),
            ))
        }
    };
    if amount == 0 {
        return Err(WalletError::Input("nothing to pay: the amount is 0".into()));
    }
    let transport = request
        .transports
        .iter()
        .find(|t| t._type == TransportType::Nostr)
        .ok_or_else(|| {
            WalletError::Input(
                "the request has no nostr transport; this wallet pays over nostr only".into(),
            )
        })?;
    let profile = Nip19Profile::from_bech32(&transport.target)
        .map_err(|e| WalletError::Input(format!("the request's nprofile: {e}")))?;
    if profile.relays.is_empty() {
        return Err(WalletError::Input(
            "the request's nprofile names no relay to deliver to".into(),
        ));
    }
    let accepted: Vec<PublicKey> = request.mints.iter().filter_map(mint_of_url).collect();
    let strict = !request.mints.is_empty() && request.mint_preferred != Some(true);
    let candidates: Vec<PublicKey> = chosen
        .into_iter()
        .chain(ours.iter().copied())
        .filter(|m| ours.contains(m))
        .collect();
    let mint = if strict {
        candidates.into_iter().find(|m| accepted.contains(m))
    } else {
        candidates
            .iter()
            .copied()
            .find(|m| accepted.contains(m))
            .or_else(|| candidates.first().copied())
    }
    .ok_or_else(|| {
        let listed: Vec<String> = request.mints.iter().map(|m| m.to_string()).collect();
        WalletError::Input(format!(
            "the request accepts only mints this wallet does not have ({}); nothing was sent",
            listed.join(", ")
        ))
    })?;
    Ok(PayPlan {
        amount,
        mint,
        receiver: profile.public_key,
        relays: profile.relays.iter().map(|r| r.to_string()).collect(),
        request,
    })
}

/// Pays `plan` from `session` (its mint): takes the ecash out, gift-wraps the payload from a
/// fresh key to the request's receiving key, publishes it to the request's relays, and records
/// it. A payment that no relay took is still recorded, with its token, and the error says so.
pub async fn pay(
    home: &WalletHome,
    session: &MintSession,
    plan: &PayPlan,
) -> Result<SentRecord, WalletError> {
    let conditions = plan
        .request
        .nut10
        .clone()
        .map(|n| SpendingConditions::try_from(Nut10Secret::from(n)))
        .transpose()
        .map_err(|e| WalletError::Input(format!("the request's lock: {e}")))?;
    let out = take_out(home, session, plan.amount, conditions).await?;
    let payload = PaymentRequestPayload {
        id: plan.request.payment_id.clone(),
        memo: None,
        mint: mint_url_of(&session.connector.mint()),
        unit: CurrencyUnit::Sat,
        proofs: out.proofs.clone(),
    };
    let content =
        serde_json::to_string(&payload).map_err(|e| WalletError::Input(format!("payload: {e}")))?;
    let sender = Keys::generate();
    let rumor = EventBuilder::new(Kind::PrivateDirectMessage, content)
        .tag(Tag::public_key(plan.receiver))
        .build(sender.public_key());
    let wrap = EventBuilder::gift_wrap(&sender, &plan.receiver, rumor, [])
        .await
        .map_err(|e| WalletError::Input(format!("gift wrap: {e}")))?;
    let record = out.record(
        session,
        SentHow::Request,
        wrap.id.to_hex(),
        Some(plan.receiver.to_hex()),
    );
    record_and_deliver(home, record, &wrap, &plan.relays).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_for(mints: &[PublicKey], amount: Option<u64>) -> (tempfile::TempDir, MadeRequest) {
        let dir = tempfile::tempdir().expect("dir");
        let (home, _) = WalletHome::open(dir.path(), None).expect("wallet");
        let made = make_request(
            &home,
            amount,
            mints,
            &["ws://127.0.0.1:7777".to_string()],
            None,
        )
        .expect("request");
        assert_eq!(home.requests().expect("saved").len(), 1);
        (dir, made)
    }

    #[test]
    fn a_request_names_a_fresh_key_its_relays_and_mints_and_is_paid_only_at_those() {
        let ours = Keys::generate().public_key();
        let other = Keys::generate().public_key();
        let (_dir, made) = request_for(&[ours], Some(21));
        assert!(made.encoded.starts_with("creqA"));
        let plan = plan_payment(&made.encoded, &[other, ours], None, None).expect("plan");
        assert_eq!(plan.mint, ours, "the accepted mint, not the first one");
        assert_eq!(plan.amount, 21);
        assert_eq!(plan.receiver, made.receiver);
        assert_eq!(plan.relays, vec!["ws://127.0.0.1:7777".to_string()]);
        let refused = plan_payment(&made.encoded, &[other], None, None);
        assert!(
            matches!(&refused, Err(WalletError::Input(why)) if why.contains("accepts only")),
            "{refused:?}"
        );
    }

    #[test]
    fn a_request_without_an_amount_needs_one_and_garbage_is_refused() {
        let ours = Keys::generate().public_key();
        let (_dir, made) = request_for(&[ours], None);
        assert!(plan_payment(&made.encoded, &[ours], None, None).is_err());
        assert_eq!(
            plan_payment(&made.encoded, &[ours], None, Some(5))
                .expect("plan")
                .amount,
            5
        );
        assert!(plan_payment("creqAnonsense", &[ours], None, Some(5)).is_err());
        assert!(plan_payment("", &[ours], None, Some(5)).is_err());
    }
}
