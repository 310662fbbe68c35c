//! One request, one answer, over relays: the NIP-47 pattern that both Nostr Mint Connect
//! (27338 → 27339) and mintwatch's query service (28172 → 28173) follow.
//!
//! The answer's subscription (`kinds [response]`, `authors [responder]`, `#p [requester]`,
//! `#e [request id]`) is open on every relay before the request is published, so an answer
//! cannot pass unseen; a request not answered in time is published once more, the same signed
//! event, which a service that keeps its answers by request id answers without executing twice.

use std::time::Duration;

use mintwatch_protocol::{EventId, SignedEvent};
use nostr_sdk::prelude::{Filter, Kind, PublicKey, RelayPoolNotification, SubscriptionId};
use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::error::RpcError;
use crate::transport::NoDelayTransport;

/// How long to wait for an answer: `first` after the first publication, then `rest` after the
/// one re-publication (so a call gives up after `first + rest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Patience {
    /// Wait after the first publication before publishing the request again.
    pub first: Duration,
    /// Wait after the re-publication before giving up.
    pub rest: Duration,
}

impl Default for Patience {
    /// 10 s, then 50 s more: the gateway gives the mint 20 s, and a melt can take that long.
    fn default() -> Self {
        Patience {
            first: Duration::from_secs(10),
            rest: Duration::from_secs(50),
        }
    }
}

impl Patience {
    /// The whole wait, both attempts.
    pub fn total(&self) -> Duration {
        self.first + self.rest
    }
}

/// A pool of relays for request/response exchanges (nostr-sdk underneath).
#[derive(Debug, Clone)]
pub struct Relays {
    client: nostr_sdk::Client,
}

/// One exchange: a signed request, who answers it, with which kind, and where to publish it.
#[derive(Debug, Clone, Copy)]
pub struct Exchange<'a> {
    /// The request, signed by the requester's key (the answer's `p`).
    pub request: &'a SignedEvent,
    /// The kind of the answer.
    pub answer_kind: u16,
    /// Who signs the answer.
    pub responder: PublicKey,
    /// The relays to publish to; empty means every relay of the pool.
    pub publish_to: &'a [String],
    /// How long to wait.
    pub patience: Patience,
}

impl Relays {
    /// Connects to `urls`, waiting up to `within` for the connections.
    pub async fn connect(urls: &[String], within: Duration) -> Result<Relays, RpcError> {
        let relays = Relays::unconnected();
        relays.add(urls, within).await?;
        Ok(relays)
    }

    /// A pool with no relay (until [`add`](Self::add)).
    pub fn unconnected() -> Relays {
        Relays {
            client: nostr_sdk::Client::builder()
                .websocket_transport(NoDelayTransport)
                .build(),
        }
    }

    /// Adds `urls` to the pool (those already in it are kept) and connects them.
    pub async fn add(&self, urls: &[String], within: Duration) -> Result<(), RpcError> {
        if urls.is_empty() {
            return Err(RpcError::NoRelays);
        }
        for url in urls {
            self.client
                .add_relay(url.as_str())
                .await
                .map_err(|e| RpcError::Relay(format!("{url}: {e}")))?;
        }
        self.client.connect().await;
        self.client.wait_for_connection(within).await;
        Ok(())
    }

    /// The newest event matching `filter` that the relays return within `within`, its
    /// signature checked by the pool.
    pub async fn latest(
        &self,
        filter: Filter,
        within: Duration,
    ) -> Result<Option<SignedEvent>, RpcError> {
        let events = self
            .client
            .fetch_events(filter, within)
            .await
            .map_err(|e| RpcError::Relay(e.to_string()))?;
        Ok(events
            .into_iter()
            .max_by_key(|e| e.created_at)
            .map(|e| SignedEvent::from(&e)))
    }

    /// Publishes `event` to `to` (every relay of the pool when empty); fails only when no
    /// relay took it.
    pub async fn publish(&self, event: &SignedEvent, to: &[String]) -> Result<(), RpcError> {
        let event = event
            .to_nostr()
            .map_err(|e| RpcError::Relay(format!("event: {e}")))?;
        self.send(&event, to).await
    }

    /// Publishes a nostr event to `to` (every relay of the pool when empty); fails only when no
    /// relay took it.
    pub async fn send(&self, event: &nostr::Event, to: &[String]) -> Result<(), RpcError> {
        let output = if to.is_empty() {
            self.client.send_event(event).await
        } else {
            self.client.send_event_to(to, event).await
        }
        .map_err(|e| RpcError::Relay(e.to_string()))?;
        if output.success.is_empty() {
            let why: Vec<String> = output
                .failed
                .iter()
                .map(|(relay, e)| format!("{relay}: {e}"))
                .collect();
            return Err(RpcError::Relay(format!(
                "no relay took the event ({})",
                why.join("; ")
            )));
        }
        Ok(())
    }

    /// nostr-sdk's client underneath, for long subscriptions (`listen`).
    pub fn client(&self) -> &nostr_sdk::Client {
        &self.client
    }

    /// Publishes the request and returns its answer: subscribes first, publishes, waits
    /// `patience.first`, publishes the same event again, waits `patience.rest`.
    pub async fn exchange(&self, ex: Exchange<'_>) -> Result<SignedEvent, RpcError> {
        let requester = PublicKey::from_slice(&ex.request.pubkey)
            .map_err(|e| RpcError::Relay(format!("requester key: {e}")))?;
        let request_id = nostr::EventId::from_slice(&ex.request.id.0)
            .map_err(|e| RpcError::Relay(format!("request id: {e}")))?;
        let filter = Filter::new()
            .kind(Kind::Custom(ex.answer_kind))
            .author(ex.responder)
            .pubkey(requester)
            .event(request_id);
        // The receiver exists before the subscription, so no answer is missed between them.
        let mut notes = self.client.notifications();
        let sub = self
            .client
            .subscribe(filter, None)
            .await
            .map_err(|e| RpcError::Relay(e.to_string()))?
            .val;
        let outcome = self.publish_and_wait(&ex, &sub, &mut notes).await;
        self.client.unsubscribe(&sub).await;
        outcome
    }

    async fn publish_and_wait(
        &self,
        ex: &Exchange<'_>,
        sub: &SubscriptionId,
        notes: &mut broadcast::Receiver<RelayPoolNotification>,
    ) -> Result<SignedEvent, RpcError> {
        for wait in [ex.patience.first, ex.patience.rest] {
            self.publish(ex.request, ex.publish_to).await?;
            let deadline = Instant::now() + wait;
            if let Some(answer) = answer_of(notes, sub, ex, deadline).await {
                return Ok(answer);
            }
            tracing::debug!(request = %ex.request.id, "no answer yet; publishing the request again");
        }
        Err(RpcError::NoAnswer(ex.patience.total()))
    }
}

/// The first event of `sub` that answers `ex.request` before `deadline`.
async fn answer_of(
    notes: &mut broadcast::Receiver<RelayPoolNotification>,
    sub: &SubscriptionId,
    ex: &Exchange<'_>,
    deadline: Instant,
) -> Option<SignedEvent> {
    loop {
        let note = match tokio::time::timeout_at(deadline, notes.recv()).await {
            Ok(Ok(note)) => note,
            // A busy pool dropped notifications this receiver had not read: keep reading; the
            // re-publication gets the answer again if it was among them.
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
            Ok(Err(broadcast::error::RecvError::Closed)) | Err(_) => return None,
        };
        let RelayPoolNotification::Event {
            subscription_id,
            event,
            ..
        } = note
        else {
            continue;
        };
        if &subscription_id != sub || event.kind != Kind::Custom(ex.answer_kind) {
            continue;
        }
        let answer = SignedEvent::from(event.as_ref());
        // The relay applied the filter; a relay that does not is not trusted with it.
        let answers: Option<EventId> = answer.tag_value("e").and_then(|e| EventId::parse(e).ok());
        if answers == Some(ex.request.id) && answer.pubkey == ex.responder.to_bytes() {
            return Some(answer);
        }
    }
}
