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

/// Runs ingest over `deliveries` (in order) and returns the ids stored and the refusals counted.
async fn ingest(deliveries: Vec<(RelayUrl, SignedEvent)>, batch_size: usize) -> (Vec<String>, u64) {
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
    let rejected = stats.rejected.load(Ordering::Relaxed);
    db.drop().await;
    (
        ids.into_iter().map(|(id,)| hex::encode(id)).collect(),
        rejected,
    )
}

/// A relay that sends a broken copy of a real event first (a bad signature, or the real id and
/// signature over another time and content) must not make mintwatch drop the real one when an
/// honest relay sends it: in the same batch, or in a later one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_copy_first_does_not_hide_the_real_event() {
    let forger: RelayUrl = Arc::from("ws://forger.invalid");
    let honest: RelayUrl = Arc::from("ws://honest.invalid");
    let events: Vec<SignedEvent> = (0..3).map(|i| announcement(&Keys::generate(), i)).collect();
    let mut expected: Vec<String> = events.iter().map(|e| e.id.to_hex()).collect();
    expected.sort();
    let mut deliveries = Vec::new();
    for event in &events {
        deliveries.push((forger.clone(), forged_copy(event)));
        deliveries.push((forger.clone(), tampered_copy(event)));
        deliveries.push((honest.clone(), event.clone()));
        // The real event again, from the forger: a plain duplicate, not a refusal.
        deliveries.push((forger.clone(), event.clone()));
    }
    for batch_size in [1, 100] {
        let (stored, rejected) = ingest(deliveries.clone(), batch_size).await;
        assert_eq!(stored, expected, "batch size {batch_size}");
        assert_eq!(
            rejected, 6,
            "the three forged and three tampered copies, batch size {batch_size}"
        );
    }
}
