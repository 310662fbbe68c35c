//! Ingest fed with deliveries directly (no relay), against a fresh real database: what dedup must
//! not do when relays disagree about an event.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use mintwatch_indexer::analyze::{AnalyzeConfig, Analyzer};
use mintwatch_indexer::ingest::{Ingest, IngestConfig};
use mintwatch_indexer::pipeline::{Delivery, RelayUrl};
use mintwatch_indexer::verify::KnownMintKeys;
use mintwatch_protocol::SignedEvent;
use mintwatch_testkit::{ingest_all, TestDb};
use nostr_relay_builder::prelude::{EventBuilder, Keys, Kind, Tag};

fn announcement(keys: &Keys, i: usize) -> SignedEvent {
    let hex = keys.public_key().to_hex();
    let event = EventBuilder::new(Kind::Custom(38172), format!("{{\"name\":\"Mint {i}\"}}"))
        .tags([
            Tag::parse(["d", &hex]).expect("tag"),
            Tag::parse(["u", &format!("https://mint{i}.example.com")]).expect("tag"),
        ])
        .sign_with_keys(keys)
        .expect("sign");
    SignedEvent::from(&event)
}

/// The same id and content with a signature that does not verify.
fn forged_copy(event: &SignedEvent) -> SignedEvent {
    let mut forged = event.clone();
    forged.sig[10] ^= 0x01;
    forged
}

/// The real id and signature over another `created_at` and content (the id no longer matches).
fn tampered_copy(event: &SignedEvent) -> SignedEvent {
    let mut tampered = event.clone();
    tampered.created_at += 1;
    tampered.content = "{\"name\":\"Tampered\"}".to_string();
    tampered
}

/// What ingest stored and refused.
struct Ingested {
    /// Hex ids of the stored events, sorted.
    stored: Vec<String>,
    /// Events refused.
    rejected: u64,
    /// (relay, hex id) of every relay recorded as carrying an event, first relay included.
    sightings: Vec<(String, String)>,
}

/// Runs ingest over `deliveries` (in order) and says what it stored, refused and saw where.
async fn ingest(deliveries: Vec<(RelayUrl, SignedEvent)>, batch_size: usize) -> Ingested {
    let db = TestDb::new().await;
    let analyzer = Analyzer::new(db.store.clone(), AnalyzeConfig::default());
    let ingest = Ingest::new(
        db.store.clone(),
        analyzer,
        IngestConfig {
            batch_size,
            linger: Duration::from_millis(5),
            ..IngestConfig::default()
        },
        KnownMintKeys::default(),
    );
    let stats = ingest.stats();
    ingest_all(
        ingest,
        deliveries
            .into_iter()
            .map(|(relay, event)| Delivery::Event {
                relay,
                json: event.to_json().into_boxed_str(),
            }),
    )
    .await;
    let ids: Vec<(Vec<u8>,)> = sqlx::query_as("SELECT id FROM events ORDER BY id")
        .fetch_all(db.store.pool())
        .await
        .expect("read ids");
    let sightings: Vec<(String, String)> = sqlx::query_as(
        "SELECT first_relay, encode(id, 'hex') FROM events
         UNION SELECT relay, encode(event_id, 'hex') FROM event_relays ORDER BY 1, 2",
    )
    .fetch_all(db.store.pool())
    .await
    .expect("read sightings");
    let rejected = stats.rejected.load(Ordering::Relaxed);
    db.drop().await;
    Ingested {
        stored: ids.into_iter().map(|(id,)| hex::encode(id)).collect(),
        rejected,
        sightings,
    }
}

/// A relay that sends a broken copy of a real event first (a bad signature, or the real id and
/// signature over another time and content) must not make mintwatch drop the real one when an
/// honest relay sends it: in the same batch, or in a later one. And a relay that only ever sends
/// such copies, before and after the real event, again and again, is never recorded as a relay
/// that carries it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_copy_first_does_not_hide_the_real_event() {
    let forger: RelayUrl = Arc::from("ws://forger.invalid");
    let honest: RelayUrl = Arc::from("ws://honest.invalid");
    let tamperer: RelayUrl = Arc::from("ws://tamperer.invalid");
    let events: Vec<SignedEvent> = (0..3).map(|i| announcement(&Keys::generate(), i)).collect();
    let mut expected: Vec<String> = events.iter().map(|e| e.id.to_hex()).collect();
    expected.sort();
    let mut deliveries = Vec::new();
    for event in &events {
        deliveries.push((forger.clone(), forged_copy(event)));
        deliveries.push((forger.clone(), tampered_copy(event)));
        deliveries.push((tamperer.clone(), tampered_copy(event)));
        deliveries.push((tamperer.clone(), tampered_copy(event)));
        deliveries.push((honest.clone(), event.clone()));
        // The real event again, from the forger: a plain duplicate, not a refusal.
        deliveries.push((forger.clone(), event.clone()));
    }
    // The tampered copies again, after every real event is known, twice.
    for event in events.iter().chain(&events) {
        deliveries.push((tamperer.clone(), tampered_copy(event)));
        deliveries.push((tamperer.clone(), forged_copy(event)));
    }
    let mut carried: Vec<(String, String)> = events
        .iter()
        .flat_map(|e| {
            [
                (forger.to_string(), e.id.to_hex()),
                (honest.to_string(), e.id.to_hex()),
            ]
        })
        .collect();
    carried.sort();
    for batch_size in [1, 4, 100] {
        let ingested = ingest(deliveries.clone(), batch_size).await;
        assert_eq!(ingested.stored, expected, "batch size {batch_size}");
        assert_eq!(
            ingested.rejected,
            6 + 6 + 12,
            "every forged and tampered copy, each time it came, batch size {batch_size}"
        );
        assert_eq!(
            ingested.sightings, carried,
            "only relays that sent the real event carry it, batch size {batch_size}"
        );
    }
}
