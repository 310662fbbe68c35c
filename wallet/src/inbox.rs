//! `listen`: payments addressed to this wallet, as they arrive: NUT-18 gift wraps (kind 1059)
//! to any of its requests' receiving keys, and nutzaps (kind 9321) to its nostr identity.
//! Each is redeemed at its mint over NMC, once: an event already settled (redeemed or refused,
//! by this run or an earlier one) is skipped however many relays deliver it. A payment this
//! wallet cannot take is refused with the reason, and its token kept in `received.jsonl`.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

use cdk::mint_url::MintUrl;
use cdk::nuts::{CurrencyUnit, PaymentRequestPayload, Proofs, SpendingConditions, Token};
use cdk::wallet::ReceiveOptions;
use nostr::nips::nip59::UnwrappedGift;
use nostr::{Event, Filter, Keys, Kind, PublicKey, SecretKey};
use nostr_sdk::prelude::{RelayPoolNotification, SubscriptionId};
use tokio::sync::broadcast;

use crate::connector::mint_of_url;
use crate::error::WalletError;
use crate::home::{MintSession, WalletHome, CONNECT_WAIT};
use crate::nutzap::{history_event, read_nutzap, NUTZAP};
use crate::records::{OpenRequest, Outcome, ReceivedRecord, SentHow};
use crate::rpc::Relays;
use crate::sending::now;

/// How often new requests (made by another `mintwatch wallet request`) are picked up.
const REFRESH_EVERY: Duration = Duration::from_secs(2);

/// The newest requests listened to: a relay bounds a filter's size, and a request years old is
/// not waited on.
const MAX_REQUESTS: usize = 500;

/// Events dropped without a record (not a payment to this wallet) remembered in memory, so a
/// relay repeating them costs nothing; forgotten all at once past this many.
const MAX_IGNORED: usize = 100_000;

/// Refusals recorded and printed per run. Anyone can send a nutzap naming any mint, so past
/// this many a flood is only counted in the log.
const MAX_REFUSALS: usize = 1_000;

/// The one subscription of gift wraps, replaced (same id) as requests are made.
const PAYMENTS: &str = "mintwatch-payments";

/// A wallet listening for payments.
pub struct Inbox {
    relays: Relays,
    urls: HashSet<String>,
    requests: HashMap<PublicKey, (Keys, OpenRequest)>,
    /// Every request file read (receiving key, hex), listened to or pruned: never read again.
    read: HashSet<String>,
    identity: Keys,
    p2pk: cdk::nuts::SecretKey,
    settled: HashSet<String>,
    ignored: HashSet<nostr::EventId>,
    refusals: usize,
    sessions: HashMap<PublicKey, MintSession>,
    notes: broadcast::Receiver<RelayPoolNotification>,
}

impl Inbox {
    /// Connects to the wallet's relays and its requests' relays, and subscribes.
    pub async fn open(home: &WalletHome) -> Result<Inbox, WalletError> {
        let relays = Relays::unconnected();
        let mut inbox = Inbox {
            notes: relays.client().notifications(),
            relays,
            urls: HashSet::new(),
            requests: HashMap::new(),
            read: HashSet::new(),
            identity: home.identity()?,
            p2pk: home.p2pk_key()?,
            settled: home.settled_events()?,
            ignored: HashSet::new(),
            refusals: 0,
            sessions: HashMap::new(),
        };
        if !home.file.relays.is_empty() {
            inbox.add_relays(&home.file.relays).await?;
            let nutzaps = Filter::new()
                .kind(Kind::Custom(NUTZAP))
                .pubkey(inbox.identity.public_key());
            inbox.subscribe(nutzaps).await?;
        }
        inbox.refresh(home).await?;
        if inbox.urls.is_empty() {
            return Err(WalletError::Input(
                "nothing to listen on: make a request, or give the wallet's relays (--relay)"
                    .into(),
            ));
        }
        Ok(inbox)
    }

    /// The keys listened on: every request's receiving key.
    pub fn receiving_keys(&self) -> Vec<PublicKey> {
        self.requests.keys().copied().collect()
    }

    async fn add_relays(&mut self, urls: &[String]) -> Result<(), WalletError> {
        let new: Vec<String> = urls
            .iter()
            .filter(|u| !self.urls.contains(*u))
            .cloned()
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        self.relays.add(&new, CONNECT_WAIT).await?;
        self.urls.extend(new);
        Ok(())
    }

    async fn subscribe(&self, filter: Filter) -> Result<(), WalletError> {
        self.relays
            .client()
            .subscribe(filter, None)
            .await
            .map_err(|e| WalletError::Input(format!("subscribe: {e}")))?;
        Ok(())
    }

    /// Picks up requests made since the last look, replacing the gift-wrap subscription.
    pub async fn refresh(&mut self, home: &WalletHome) -> Result<(), WalletError> {
        let mut requests = home.requests_except(|key| self.read.contains(key))?;
        let keep_from = requests.len().saturating_sub(MAX_REQUESTS);
        let mut fresh = false;
        for (i, request) in requests.drain(..).enumerate() {
            let secret = SecretKey::from_hex(&request.secret)
                .map_err(|e| WalletError::Input(format!("a request's key: {e}")))?;
            let keys = Keys::new(secret);
            self.read.insert(keys.public_key().to_hex());
            if i < keep_from {
                continue;
            }
            self.add_relays(&request.relays).await?;
            fresh = true;
            self.requests.insert(keys.public_key(), (keys, request));
        }
        if self.requests.len() > MAX_REQUESTS {
            let mut by_age: Vec<(u64, PublicKey)> = self
                .requests
                .iter()
                .map(|(k, (_, r))| (r.created_at, *k))
                .collect();
            by_age.sort();
            for (_, old) in by_age.iter().take(self.requests.len() - MAX_REQUESTS) {
                self.requests.remove(old);
            }
        }
        if fresh {
            self.subscribe_payments().await?;
        }
        Ok(())
    }

    async fn subscribe_payments(&self) -> Result<(), WalletError> {
        let filter = Filter::new()
            .kind(Kind::GiftWrap)
            .pubkeys(self.receiving_keys());
        self.relays
            .client()
            .subscribe_with_id(SubscriptionId::new(PAYMENTS), filter, None)
            .await
            .map_err(|e| WalletError::Input(format!("subscribe: {e}")))?;
        Ok(())
    }

    /// The next payment handled (redeemed, refused, or failed for now), recorded in
    /// `received.jsonl`. Events settled before are skipped.
    pub async fn next(&mut self, home: &WalletHome) -> Result<ReceivedRecord, WalletError> {
        loop {
            let note = match tokio::time::timeout(REFRESH_EVERY, self.notes.recv()).await {
                Err(_) => {
                    self.refresh(home).await?;
                    continue;
                }
                Ok(Err(broadcast::error::RecvError::Lagged(n))) => {
                    // Missed notifications are still on the relays: a new subscription replays.
                    tracing::warn!(missed = n, "listen fell behind; asking the relays again");
                    self.resubscribe().await?;
                    continue;
                }
                Ok(Err(broadcast::error::RecvError::Closed)) => {
                    return Err(WalletError::Input("the relay pool closed".into()))
                }
                Ok(Ok(note)) => note,
            };
            let RelayPoolNotification::Event {
                event, relay_url, ..
            } = note
            else {
                continue;
            };
            let id = event.id.to_hex();
            if self.settled.contains(&id) || self.ignored.contains(&event.id) {
                continue;
            }
            let record = if event.kind == Kind::GiftWrap {
                self.gift_wrap(home, &event).await
            } else if event.kind == Kind::Custom(NUTZAP) {
                self.nutzap(home, &event, relay_url.as_str()).await
            } else {
                None
            };
            let Some(record) = record else {
                if self.ignored.len() >= MAX_IGNORED {
                    self.ignored.clear();
                }
                self.ignored.insert(event.id);
                continue;
            };
            if record.outcome == Outcome::Refused {
                self.refusals += 1;
                if self.refusals > MAX_REFUSALS {
                    if self.refusals == MAX_REFUSALS + 1 {
                        tracing::warn!(
                            "more than {MAX_REFUSALS} payments refused in this run; further \
                             refusals are not recorded"
                        );
                    }
                    self.settled.insert(id);
                    continue;
                }
            }
            home.record_received(&record)?;
            if record.outcome != Outcome::Failed {
                self.settled.insert(id);
            }
            return Ok(record);
        }
    }

    async fn resubscribe(&mut self) -> Result<(), WalletError> {
        self.relays.client().unsubscribe_all().await;
        if !self.requests.is_empty() {
            self.subscribe_payments().await?;
        }
        self.subscribe(
            Filter::new()
                .kind(Kind::Custom(NUTZAP))
                .pubkey(self.identity.public_key()),
        )
        .await
    }

    /// A gift wrap to one of the requests' keys; `None` if it is not a payment at all (another
    /// DM to the same key, or one that does not open), which is not recorded.
    async fn gift_wrap(&mut self, home: &WalletHome, event: &Event) -> Option<ReceivedRecord> {
        let (keys, request) = event
            .tags
            .public_keys()
            .find_map(|p| self.requests.get(p))
            .cloned()?;
        let gift = UnwrappedGift::from_gift_wrap(&keys, event).await.ok()?;
        if gift.rumor.kind != Kind::PrivateDirectMessage {
            return None;
        }
        let mut record = ReceivedRecord {
            event: event.id.to_hex(),
            at: now(),
            how: SentHow::Request,
            outcome: Outcome::Refused,
            amount: 0,
            mint: String::new(),
            detail: String::new(),
            token: None,
        };
        let payload: PaymentRequestPayload = match serde_json::from_str(&gift.rumor.content) {
            Ok(p) => p,
            Err(e) => {
                record.detail = format!("not a payment payload: {e}");
                return Some(record);
            }
        };
        record.amount = total(&payload.proofs);
        record.mint = payload.mint.to_string();
        let token = Token::new(
            payload.mint.clone(),
            payload.proofs.clone(),
            payload.memo.clone(),
            payload.unit.clone(),
        );
        record.token = Some(token.to_string());
        if payload.unit != CurrencyUnit::Sat {
            record.detail = format!("in {}, not sat", payload.unit);
            return Some(record);
        }
        let accepted = mint_of_url(&payload.mint).filter(|m| request.mints.contains(&m.to_hex()));
        let Some(mint) = accepted.filter(|m| has_mint(home, m)) else {
            record.detail = format!(
                "at mint {}, which request {} does not accept: its token is kept in \
                 received.jsonl",
                payload.mint, request.id
            );
            return Some(record);
        };
        let options = ReceiveOptions::default();
        self.redeem(home, mint, &token, options, &mut record).await;
        if record.outcome == Outcome::Redeemed {
            record.detail = format!("request {}", request.id);
        }
        Some(record)
    }

    /// A nutzap to this wallet's npub; `None` if it carries no proofs for it.
    async fn nutzap(
        &mut self,
        home: &WalletHome,
        event: &Event,
        relay: &str,
    ) -> Option<ReceivedRecord> {
        let mut record = ReceivedRecord {
            event: event.id.to_hex(),
            at: now(),
            how: SentHow::Nutzap,
            outcome: Outcome::Refused,
            amount: 0,
            mint: String::new(),
            detail: String::new(),
            token: None,
        };
        // Not a nutzap to this wallet with proofs in it: nothing to keep, nothing to tell.
        let zap = match read_nutzap(event, &self.identity.public_key()) {
            Ok(zap) => zap,
            Err(why) => {
                tracing::debug!(event = %event.id, why, "not a nutzap to this wallet");
                return None;
            }
        };
        record.amount = total(&zap.proofs);
        record.mint = zap.mint.clone();
        let Ok(url) = MintUrl::from_str(&zap.mint) else {
            record.detail = format!("a bad mint URL {}", zap.mint);
            return Some(record);
        };
        let token = Token::new(
            url.clone(),
            zap.proofs.clone(),
            Some(zap.comment.clone()).filter(|c| !c.is_empty()),
            CurrencyUnit::Sat,
        );
        record.token = Some(token.to_string());
        let Some(mint) = mint_of_url(&url).filter(|m| has_mint(home, m)) else {
            record.detail = format!(
                "at mint {}, which this wallet does not accept: its token is kept in \
                 received.jsonl",
                zap.mint
            );
            return Some(record);
        };
        let mine = self.p2pk.public_key();
        let locked_to_me = zap.proofs.iter().all(|p| {
            matches!(
                SpendingConditions::try_from(&p.secret),
                Ok(SpendingConditions::P2PKConditions { data, .. }) if data == mine
            )
        });
        if !locked_to_me {
            record.detail = "its proofs are not locked to this wallet's nutzap key".into();
            return Some(record);
        }
        let options = ReceiveOptions {
            p2pk_signing_keys: vec![self.p2pk.clone()],
            ..Default::default()
        };
        self.redeem(home, mint, &token, options, &mut record).await;
        if record.outcome == Outcome::Redeemed {
            record.detail = format!("nutzap from {}", event.pubkey.to_hex());
            // The 7376 is a courtesy to other NIP-60 clients; the redemption stands without it.
            let published = match history_event(&self.identity, event, relay, record.amount) {
                Ok(history) => self
                    .relays
                    .send(&history, &home.file.relays)
                    .await
                    .map(|_| history.id.to_hex())
                    .map_err(WalletError::from),
                Err(e) => Err(e),
            };
            match published {
                Ok(id) => record.detail.push_str(&format!("; history 7376 {id}")),
                Err(e) => record
                    .detail
                    .push_str(&format!("; 7376 not published: {e}")),
            }
        }
        Some(record)
    }

    /// Swaps `token` at `mint`, setting the record's outcome.
    async fn redeem(
        &mut self,
        home: &WalletHome,
        mint: PublicKey,
        token: &Token,
        options: ReceiveOptions,
        record: &mut ReceivedRecord,
    ) {
        let session = match self.sessions.get(&mint) {
            Some(s) => s,
            None => match home.session(mint).await {
                Ok(s) => self.sessions.entry(mint).or_insert(s),
                Err(e) => {
                    record.outcome = Outcome::Failed;
                    record.detail = format!("the mint cannot be reached ({e}): tried again later");
                    return;
                }
            },
        };
        match session.wallet.receive(&token.to_string(), options).await {
            Ok(amount) => {
                record.outcome = Outcome::Redeemed;
                record.amount = u64::from(amount);
                record.token = None;
            }
            Err(cdk::Error::TokenAlreadySpent) => {
                record.outcome = Outcome::Refused;
                record.detail = "its proofs are already spent at the mint (redeemed before, or \
                                 spent again by the payer): nothing was added"
                    .into();
            }
            Err(cdk::Error::Timeout) => {
                record.outcome = Outcome::Failed;
                record.detail = "the mint did not answer: tried again later".into();
            }
            Err(e) => {
                record.outcome = Outcome::Refused;
                record.detail = format!("the mint refused it: {e}; its token is kept");
            }
        }
    }
}

fn total(proofs: &Proofs) -> u64 {
    proofs.iter().map(|p| u64::from(p.amount)).sum()
}

fn has_mint(home: &WalletHome, mint: &PublicKey) -> bool {
    let hex = mint.to_hex();
    home.file.mints.iter().any(|m| m.key == hex)
}
