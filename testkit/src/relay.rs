//! A real nostr relay (nostr-relay-builder) on 127.0.0.1, served with `TCP_NODELAY`, with the
//! builder's open-internet limits raised to what tests, benches and the demo need; and a client
//! connected to it.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use nostr_relay_builder::prelude::{
    DatabaseError, Event, Filter, MemoryDatabase, MemoryDatabaseOptions, NostrDatabase, RateLimit,
};
use nostr_relay_builder::{LocalRelay, RelayBuilder};

use mintwatch_protocol::{EventId, SignedEvent};

/// A real relay on 127.0.0.1 (random port unless given), with the builder's open-internet
/// defaults raised: no practical rate limit, unbounded memory, large query limits.
pub struct TestRelay {
    relay: LocalRelay,
    db: Arc<MemoryDatabase>,
    accept: tokio::task::JoinHandle<()>,
    connections: crate::nodelay::Connections,
    /// `ws://127.0.0.1:<port>`.
    pub url: String,
}

impl TestRelay {
    /// Starts a relay; panics if the port cannot be bound.
    pub async fn start(port: Option<u16>) -> TestRelay {
        Self::try_start(port).await.expect("relay port")
    }

    /// Starts a relay, or says why its port cannot be bound.
    pub async fn try_start(port: Option<u16>) -> std::io::Result<TestRelay> {
        let db = Arc::new(MemoryDatabase::with_opts(MemoryDatabaseOptions {
            events: true,
            max_events: None,
        }));
        let mut builder = RelayBuilder::default()
            .addr(Ipv4Addr::LOCALHOST.into())
            .database(db.clone())
            .rate_limit(RateLimit {
                max_reqs: 1_000,
                notes_per_minute: 10_000_000,
            })
            .max_filter_limit(100_000);
        if let Some(p) = port {
            builder = builder.port(p);
        }
        let relay = LocalRelay::new(builder);
        let listener =
            tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port.unwrap_or(0))).await?;
        let url = format!("ws://{}", listener.local_addr()?);
        let connections = crate::nodelay::Connections::default();
        let accept = tokio::spawn(crate::nodelay::accept_nodelay(
            listener,
            relay.clone(),
            connections.clone(),
        ));
        Ok(TestRelay {
            relay,
            db,
            accept,
            connections,
            url,
        })
    }

    /// Puts events straight into the relay's database (found by backfill). The relay does not
    /// check them, so forged events can be served too, as a hostile relay would.
    pub async fn store(&self, events: &[SignedEvent]) {
        self.store_events(&to_nostr(events)).await;
    }

    /// Stores events and pushes them to live subscriptions.
    pub async fn publish(&self, events: &[SignedEvent]) {
        self.publish_events(&to_nostr(events)).await;
    }

    /// [`TestRelay::store`] for `nostr` events.
    pub async fn store_events(&self, events: &[Event]) {
        for e in events {
            self.db.save_event(e).await.expect("saved");
        }
    }

    /// [`TestRelay::publish`] for `nostr` events; panics if nobody is subscribed (a test that
    /// publishes live expects a live reader).
    pub async fn publish_events(&self, events: &[Event]) {
        for e in events {
            let live = self.serve_unchecked(e).await.expect("saved");
            assert!(live, "relay has live sessions");
        }
    }

    /// Serves `event` as a relay that checks nothing would: stored and pushed to live
    /// subscriptions, whatever its signature says. True if a live session was there to hear it.
    pub async fn serve_unchecked(&self, event: &Event) -> Result<bool, DatabaseError> {
        self.db.save_event(event).await?;
        Ok(self.relay.notify_event(event.clone()))
    }

    /// The ids of every event the relay serves now (after it applied replacements of
    /// replaceable and addressable events and NIP-09 deletions).
    pub async fn served_ids(&self) -> BTreeSet<EventId> {
        self.db
            .query(Filter::new())
            .await
            .expect("query relay database")
            .into_iter()
            .map(|e| EventId(e.id.to_bytes()))
            .collect()
    }

    /// The events of `kind` the relay serves now, as stored (replacements applied).
    pub async fn events_of_kind(&self, kind: u16) -> Vec<Event> {
        self.db
            .query(Filter::new().kind(nostr_relay_builder::prelude::Kind::Custom(kind)))
            .await
            .expect("query relay database")
            .into_iter()
            .collect()
    }

    /// Stops the relay: no new connections, and the open ones are closed.
    pub fn shutdown(&self) {
        self.accept.abort();
        self.relay.shutdown();
        if let Ok(mut open) = self.connections.lock() {
            for connection in open.drain(..) {
                connection.abort();
            }
        }
    }
}

/// A nostr-sdk client connected to `url` (waits up to 10 s for the connection), as a wallet or
/// another app would be.
pub async fn connected_client(url: &str) -> nostr_sdk::Client {
    let client = nostr_sdk::Client::default();
    client.add_relay(url).await.expect("relay url");
    client.connect().await;
    client.wait_for_connection(Duration::from_secs(10)).await;
    client
}

fn to_nostr(events: &[SignedEvent]) -> Vec<Event> {
    events
        .iter()
        .map(|e| e.to_nostr().expect("event converts"))
        .collect()
}
