//! A client of Nostr Mint Connect made of `mintwatch_protocol::nmc` and a nostr-sdk relay pool
//! only (no HTTP): it signs each request with a fresh key, listens to the mint's 27339
//! responses on every relay, and counts how many times each response arrives.

use std::collections::HashMap;
use std::time::Duration;

use mintwatch_protocol::nmc::{build_request, open_response, NmcRequest, NmcResponse};
use mintwatch_protocol::{EventId, SignedEvent};
use nostr_sdk::prelude::{
    Filter, Keys, Kind, PublicKey, RelayMessage, RelayPoolNotification, Timestamp,
};
use serde_json::Value;
use tokio::sync::broadcast;

/// The wallet side of NMC, for tests.
pub struct NmcClient {
    client: nostr_sdk::Client,
    notes: broadcast::Receiver<RelayPoolNotification>,
    /// The mint's key.
    pub mint: PublicKey,
    /// Keys of the requests sent, by request id.
    keys: HashMap<EventId, Keys>,
    /// Responses heard, by the request they answer: the event and how many times it came.
    heard: HashMap<EventId, (SignedEvent, usize)>,
}

impl NmcClient {
    /// Connects to `relays` and listens to `mint`'s responses.
    pub async fn connect(relays: &[&str], mint: PublicKey) -> NmcClient {
        let client = nostr_sdk::Client::default();
        for r in relays {
            client.add_relay(*r).await.expect("relay url");
        }
        client.connect().await;
        client.wait_for_connection(Duration::from_secs(10)).await;
        let notes = client.notifications();
        client
            .subscribe(
                Filter::new()
                    .kind(Kind::Custom(27339))
                    .author(mint)
                    .since(Timestamp::from(Timestamp::now().as_secs() - 60)),
                None,
            )
            .await
            .expect("subscribe");
        NmcClient {
            client,
            notes,
            mint,
            keys: HashMap::new(),
            heard: HashMap::new(),
        }
    }

    /// A signed request from a fresh key, remembered so its response can be opened.
    pub fn request(&mut self, method: &str, params: Value, expiration: Option<u64>) -> SignedEvent {
        self.request_as(Keys::generate(), method, params, expiration)
    }

    /// A signed request from `keys` (one requester sending many).
    pub fn request_as(
        &mut self,
        keys: Keys,
        method: &str,
        params: Value,
        expiration: Option<u64>,
    ) -> SignedEvent {
        let request = NmcRequest {
            method: method.into(),
            params,
        };
        let event = build_request(&keys, &self.mint, &request, expiration).expect("request builds");
        self.keys.insert(event.id, keys);
        event
    }

    /// Remembers `keys` as the author of `event` (a request built by hand).
    pub fn remember(&mut self, event: &SignedEvent, keys: Keys) {
        self.keys.insert(event.id, keys);
    }

    /// Publishes `event` to every relay of the client, or to `only` that one.
    pub async fn send(&self, event: &SignedEvent, only: Option<&str>) {
        let event = event.to_nostr().expect("converts");
        match only {
            Some(relay) => {
                self.client
                    .send_event_to([relay], &event)
                    .await
                    .expect("sent");
            }
            None => {
                self.client.send_event(&event).await.expect("sent");
            }
        }
    }

    /// Reads what the relays delivered until `until` passes or the answer to `id` is heard.
    async fn listen(&mut self, id: Option<EventId>, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if id.is_some_and(|id| self.heard.contains_key(&id)) {
                return;
            }
            let note = match tokio::time::timeout_at(deadline, self.notes.recv()).await {
                Ok(Ok(note)) => note,
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
                _ => return,
            };
            // Every message, not only each event's first arrival: a response delivered by two
            // relays counts twice.
            if let RelayPoolNotification::Message {
                message: RelayMessage::Event { event, .. },
                ..
            } = note
            {
                let event = SignedEvent::from(event.as_ref());
                if event.kind != 27339 {
                    continue;
                }
                let Some(answers) = event.tag_value("e").and_then(|e| EventId::parse(e).ok())
                else {
                    continue;
                };
                self.heard
                    .entry(answers)
                    .and_modify(|(_, n)| *n += 1)
                    .or_insert((event, 1));
            }
        }
    }

    /// The response to request `id`, waiting at most `within`; `None` if none came.
    pub async fn response(&mut self, id: EventId, within: Duration) -> Option<NmcResponse> {
        self.listen(Some(id), within).await;
        let (event, _) = self.heard.get(&id)?;
        let keys = self.keys.get(&id).expect("a request of this client");
        let opened = open_response(keys, event).expect("the response opens");
        assert_eq!(opened.mint, self.mint, "answered by the mint");
        assert_eq!(opened.request, id);
        Some(opened.response)
    }

    /// How many times the response to `id` arrived (one per relay per publication), after
    /// listening `settle` more.
    pub async fn deliveries(&mut self, id: EventId, settle: Duration) -> usize {
        self.listen(None, settle).await;
        self.heard.get(&id).map_or(0, |(_, n)| *n)
    }

    /// The response event to `id` as heard.
    pub fn response_event(&self, id: EventId) -> Option<&SignedEvent> {
        self.heard.get(&id).map(|(e, _)| e)
    }

    /// Calls `method` and returns its result; panics on an error answer or no answer in 30 s.
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        let request = self.request(method, params, None);
        self.send(&request, None).await;
        let response = self
            .response(request.id, Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("no answer to {method} in 30 s"));
        match (response.result, response.error) {
            (Some(result), None) => result,
            (_, error) => panic!("{method}: {error:?}"),
        }
    }
}
