//! The rules the store keeps whatever order events arrive in: replaceable events (NIP-01: the
//! newest wins, ties go to the lowest id), the latest review per author and target, and NIP-09
//! deletions (only the author's own).

use mintwatch_protocol::IdentityLevel;
use mintwatch_store::batch::Verified;
use mintwatch_store::read::{mint_cores, mint_report, reviews_page, ReviewItem};
use nostr::Keys;

use crate::support::*;

/// The live announcements of `key`'s report, as (event id, urls).
async fn live_announcements(db: &TestDb, key: &mintwatch_protocol::MintKey) -> Vec<String> {
    mint_report(&db.store, key)
        .await
        .expect("report")
        .expect("listed")
        .announcements
        .into_iter()
        .map(|a| a.event_id)
        .collect()
}

async fn live_reviews(db: &TestDb, key: &mintwatch_protocol::MintKey) -> Vec<ReviewItem> {
    reviews_page(db.store.pool(), key, Some(200), None)
        .await
        .expect("reviews")
        .reviews
}

pub async fn replaceable_the_newest_announcement_wins(db: &TestDb) {
    let mint = Keys::generate();
    let key = mint_key(&mint);
    // A newer one, then an older one arriving late: the newer stays.
    let newer = announcement(&mint, &key, "https://new.example", "New", 200);
    let older = announcement(&mint, &key, "https://old.example", "Old", 100);
    db.store
        .write_batch(&batch(vec![newer.clone()]))
        .await
        .expect("write");
    db.store
        .write_batch(&batch(vec![older]))
        .await
        .expect("write");
    let report = mint_report(&db.store, &key)
        .await
        .expect("report")
        .expect("listed");
    assert_eq!(report.announcements.len(), 1);
    assert_eq!(report.announcements[0].event_id, newer.event.id.to_hex());
    assert_eq!(
        report.announcements[0].urls,
        vec!["https://new.example".to_string()]
    );
    assert!(report.announcements[0].by_mint);
    assert_eq!(report.identity, IdentityLevel::SelfSigned.as_str());
    assert_eq!(report.info.name.as_deref(), Some("New"));
    assert_eq!(report.info.network.as_deref(), Some("mainnet"));
    assert_eq!(report.info.nuts, vec![4, 5, 7]);

    // Another signer naming a mint with no announcement of its own: operator level, and not
    // the mint's own activity.
    let operator = Keys::generate();
    let other_key = mint_key(&Keys::generate());
    db.store
        .write_batch(&batch(vec![announcement(
            &operator,
            &other_key,
            "https://op.example",
            "Op",
            50,
        )]))
        .await
        .expect("write");
    let row = mint_cores(&db.store, Some(&[other_key]))
        .await
        .expect("core")
        .pop()
        .expect("listed");
    assert_eq!(row.identity, IdentityLevel::Operator.as_str());
    assert_eq!((row.last_seen, row.last_active), (50, None));
    assert_eq!(row.urls, vec!["https://op.example".to_string()]);
}

pub async fn replaceable_ties_go_to_the_lowest_id(db: &TestDb) {
    let mint = Keys::generate();
    let key = mint_key(&mint);
    // Same created_at: the lowest id wins, whichever arrives first.
    let x = announcement(&mint, &key, "https://x.example", "X", 300);
    let y = announcement(&mint, &key, "https://y.example", "Y", 300);
    let (low, high) = if x.event.id.0 < y.event.id.0 {
        (x, y)
    } else {
        (y, x)
    };
    db.store
        .write_batch(&batch(vec![high.clone()]))
        .await
        .expect("write");
    let outcome = db
        .store
        .write_batch(&batch(vec![low.clone()]))
        .await
        .expect("write");
    assert!(outcome.changed_mints.contains(&key));
    assert_eq!(
        live_announcements(db, &key).await,
        vec![low.event.id.to_hex()]
    );
    // And the higher id arriving again later does not displace it.
    let again = Verified {
        relay: relay(RELAY_B),
        ..high.clone()
    };
    db.store
        .write_batch(&batch(vec![again]))
        .await
        .expect("write");
    assert_eq!(
        live_announcements(db, &key).await,
        vec![low.event.id.to_hex()]
    );

    // Both in one batch, high first: one statement may not touch a row twice, and the rule
    // still holds.
    let db2 = TestDb::new().await;
    db2.store
        .write_batch(&batch(vec![high, low.clone()]))
        .await
        .expect("write");
    assert_eq!(
        live_announcements(&db2, &key).await,
        vec![low.event.id.to_hex()]
    );
    db2.drop().await;
}

pub async fn latest_review_per_author_is_the_live_one(db: &TestDb) {
    let key = mint_key(&Keys::generate());
    let (alice, bob) = (Keys::generate(), Keys::generate());
    // A newer review replaces an older one, whatever the arrival order.
    let r2 = review(&alice, &key, 5.0, "great", 200);
    let r1 = review(&alice, &key, 2.0, "meh", 100);
    let out = db
        .store
        .write_batch(&batch(vec![r2.clone()]))
        .await
        .expect("write");
    assert!(out.changed_mints.contains(&key));
    db.store.write_batch(&batch(vec![r1])).await.expect("write");
    let b1 = review(&bob, &key, 3.0, "ok", 150);
    db.store
        .write_batch(&batch(vec![b1.clone()]))
        .await
        .expect("write");
    let live = live_reviews(db, &key).await;
    let got: Vec<(String, Option<f64>, &str)> = live
        .iter()
        .map(|r| (r.event_id.clone(), r.rating, r.text.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (r2.event.id.to_hex(), Some(5.0), "great"),
            (b1.event.id.to_hex(), Some(3.0), "ok"),
        ]
    );
    assert_eq!(live[0].author, alice.public_key().to_hex());
    // Every version stays stored (evidence); only the live view changes.
    assert_eq!(db.count("reviews").await, 3);
}

pub async fn nip09_a_deletion_removes_the_authors_review(db: &TestDb) {
    let key = mint_key(&Keys::generate());
    let alice = Keys::generate();
    let r1 = review(&alice, &key, 2.0, "meh", 100);
    let r2 = review(&alice, &key, 5.0, "great", 200);
    db.store
        .write_batch(&batch(vec![r1, r2.clone()]))
        .await
        .expect("write");
    // Alice deletes her live review: she has no live review (the superseded one does not come
    // back).
    let out = db
        .store
        .write_batch(&batch(vec![deletion(&alice, &[r2.event.id], 300)]))
        .await
        .expect("write");
    assert!(out.changed_mints.contains(&key));
    assert!(live_reviews(db, &key).await.is_empty());
    // A later review by her is live again.
    let r3 = review(&alice, &key, 4.0, "better now", 400);
    db.store
        .write_batch(&batch(vec![r3.clone()]))
        .await
        .expect("write");
    let live = live_reviews(db, &key).await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].event_id, r3.event.id.to_hex());
}

pub async fn nip09_a_deletion_before_its_review_still_applies(db: &TestDb) {
    let key = mint_key(&Keys::generate());
    let bob = Keys::generate();
    let b1 = review(&bob, &key, 1.0, "bad", 400);
    db.store
        .write_batch(&batch(vec![deletion(&bob, &[b1.event.id], 401)]))
        .await
        .expect("write");
    let out = db
        .store
        .write_batch(&batch(vec![b1.clone()]))
        .await
        .expect("write");
    assert_eq!(out.new_events, vec![b1.event.id]);
    assert!(live_reviews(db, &key).await.is_empty());
    assert_eq!(
        db.count("reviews").await,
        1,
        "stored as evidence all the same"
    );
}

pub async fn nip09_a_deletion_by_another_author_is_ignored(db: &TestDb) {
    let key = mint_key(&Keys::generate());
    let (alice, bob) = (Keys::generate(), Keys::generate());
    let r = review(&alice, &key, 5.0, "great", 200);
    db.store
        .write_batch(&batch(vec![r.clone()]))
        .await
        .expect("write");
    db.store
        .write_batch(&batch(vec![deletion(&bob, &[r.event.id], 250)]))
        .await
        .expect("write");
    let live = live_reviews(db, &key).await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].event_id, r.event.id.to_hex());
}
