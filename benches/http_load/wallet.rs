//! The nostr side of the query-service bench: a wallet that asks the service under a fresh key
//! per request, and the baselines it measures (a relay echo, a ping answered by another client).

use std::time::{Duration, Instant};

use nostr_sdk::prelude::{
    Client, EventBuilder, Filter, Keys, Kind, RelayPoolNotification, Timestamp,
};

use mintwatch_protocol::kinds;
use mintwatch_protocol::output::{build_request, open_response, Query};
use mintwatch_protocol::SignedEvent;
use mintwatch_testkit::connected_client;

/// An ephemeral kind (20000..30000, as 28172 and 28173 are) for the relay baseline.
pub(crate) const EPHEMERAL_ECHO: u16 = 20_001;

pub(crate) struct Wallet {
    pub(crate) client: Client,
    pub(crate) notes: tokio::sync::broadcast::Receiver<RelayPoolNotification>,
}

impl Wallet {
    pub(crate) async fn connect(relay: &str, service: nostr::PublicKey) -> Wallet {
        let client = connected_client(relay).await;
        let notes = client.notifications();
        client
            .subscribe(
                Filter::new()
                    .kind(Kind::Custom(kinds::SERVICE_RESPONSE))
                    .author(service)
                    .since(Timestamp::now() - Duration::from_secs(5)),
                None,
            )
            .await
            .expect("subscribe to responses");
        Wallet { client, notes }
    }

    /// Sends `query` under a fresh key and waits for its answer; the round trip and the method
    /// answered (an error answer panics: the bench measures answers, not refusals).
    pub(crate) async fn ask(
        &mut self,
        service: &nostr::PublicKey,
        query: &Query,
    ) -> (Duration, Duration) {
        let keys = Keys::generate();
        let request = build_request(&keys, service, query).expect("request builds");
        let start = Instant::now();
        self.client
            .send_event(&request.to_nostr().expect("converts"))
            .await
            .expect("sent");
        let sent = start.elapsed();
        loop {
            let note = tokio::time::timeout(Duration::from_secs(30), self.notes.recv())
                .await
                .expect("a response within 30 s")
                .expect("notifications");
            let RelayPoolNotification::Event { event, .. } = note else {
                continue;
            };
            let event = SignedEvent::from(&*event);
            let Ok(opened) = open_response(&keys, &event) else {
                continue;
            };
            if opened.request != request.id {
                continue;
            }
            let took = start.elapsed();
            assert!(
                opened.response.error.is_none(),
                "{query:?}: {:?}",
                opened.response.error
            );
            return (took, sent);
        }
    }

    /// Baseline: a kind-20002 event to [`ponger`], until its answer is heard.
    pub(crate) async fn ping(&mut self, keys: &Keys) -> Duration {
        let event = EventBuilder::new(
            Kind::Custom(PING),
            format!("ping {}", rand::random::<u64>()),
        )
        .sign_with_keys(keys)
        .expect("sign");
        let want = event.id.to_hex();
        let start = Instant::now();
        self.client.send_event(&event).await.expect("sent");
        loop {
            let note = tokio::time::timeout(Duration::from_secs(30), self.notes.recv())
                .await
                .expect("pong within 30 s")
                .expect("notifications");
            if let RelayPoolNotification::Event { event: e, .. } = note {
                if e.kind == Kind::Custom(PONG) && e.content == want {
                    return start.elapsed();
                }
            }
        }
    }

    /// Baseline: a text note sent by another client (`sender`, as the service would),
    /// heard back through this wallet's subscription. (nostr-sdk does not notify a client of
    /// an event it sent itself.)
    pub(crate) async fn echo(
        &mut self,
        sender: &Client,
        keys: &Keys,
        kind: Kind,
        pad: usize,
    ) -> Duration {
        let event = EventBuilder::new(
            kind,
            format!("ping {} {}", rand::random::<u64>(), "x".repeat(pad)),
        )
        .sign_with_keys(keys)
        .expect("sign");
        let start = Instant::now();
        sender.send_event(&event).await.expect("sent");
        loop {
            let note = tokio::time::timeout(Duration::from_secs(30), self.notes.recv())
                .await
                .expect("echo within 30 s")
                .expect("notifications");
            if let RelayPoolNotification::Event { event: e, .. } = note {
                if e.id == event.id {
                    return start.elapsed();
                }
            }
        }
    }
}

/// A second nostr-sdk client that answers every kind-20002 event of `from` with a kind-20003
/// event naming it: the service's path (hear a request, send an answer) without mintwatch code.
pub(crate) async fn ponger(relay: &str, from: nostr::PublicKey) -> (Client, nostr::PublicKey) {
    let keys = Keys::generate();
    let client = connected_client(relay).await;
    let mut notes = client.notifications();
    client
        .subscribe(Filter::new().kind(Kind::Custom(PING)).author(from), None)
        .await
        .expect("subscribe to pings");
    let (c, k) = (client.clone(), keys.clone());
    tokio::spawn(async move {
        loop {
            match notes.recv().await {
                Ok(RelayPoolNotification::Event { event, .. })
                    if event.kind == Kind::Custom(PING) =>
                {
                    let pong = EventBuilder::new(Kind::Custom(PONG), event.id.to_hex())
                        .sign_with_keys(&k)
                        .expect("sign");
                    let _ = c.send_event(&pong).await;
                }
                Ok(RelayPoolNotification::Shutdown) | Err(_) => break,
                Ok(_) => {}
            }
        }
    });
    (client, keys.public_key())
}

const PING: u16 = 20_002;
pub(crate) const PONG: u16 = 20_003;
