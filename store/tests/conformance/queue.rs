//! The analysis queue: written with its batch, rebuilt after a restart exactly as the store stage
//! computed it, marked analysed with the findings, forgotten once ranks are recomputed.

use std::collections::BTreeSet;

use mintwatch_protocol::FindingKind;
use mintwatch_store::NewFinding;
use nostr::Keys;

use crate::support::*;

pub async fn a_batch_queues_what_it_changed_and_a_restart_reads_the_same(db: &TestDb) {
    let (a, b) = (Keys::generate(), Keys::generate());
    let (y1, y2) = (random_point(), random_point());
    let first = cashu_data(&a, vec![burns(0, "sat", &[(y1, 1)])], None, 1, RELAY_A);
    let second = cashu_data(
        &a,
        vec![burns(0, "sat", &[(y2, 2), (y1, 1)]), mints(1, "usd", &[4])],
        Some(first.event.id),
        2,
        RELAY_A,
    );
    // An identity event whose content names another key: a finding read off the event alone.
    let info = mint_info(&b, random_point(), "b", 3);
    let events = vec![
        first,
        second,
        info,
        review(&Keys::generate(), &mint_key(&a), 5.0, "ok", 4),
    ];
    let outcome = db
        .store
        .write_batch(&batch(events.clone()))
        .await
        .expect("write");
    let seq = outcome.queued.expect("queued");
    assert_eq!(outcome.changes.ys.len(), 3, "{:?}", outcome.changes);
    assert!(outcome.changes.has_chain);
    assert_eq!(outcome.changes.groups.len(), 2);
    assert_eq!(outcome.changes.findings.len(), 1);
    assert_eq!(
        outcome.changes.findings[0].kind,
        FindingKind::IdentityMismatch
    );
    assert!(outcome.changes.changed.contains(&mint_key(&a)));

    let queued = db.store.queued_batches(0, 10).await.expect("queued");
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].seq, seq);
    assert!(!queued[0].analysed);
    assert_eq!(
        queued[0].changes, outcome.changes,
        "rebuilt from the stored rows"
    );
    assert_eq!(db.store.queued_count().await.expect("count"), 1);

    // The same batch again inserts nothing, so it queues nothing.
    let again = db.store.write_batch(&batch(events)).await.expect("write");
    assert_eq!(again.queued, None);
    assert!(again.changes.is_empty());
    assert!(db
        .store
        .queued_batches(seq, 10)
        .await
        .expect("after")
        .is_empty());
}

pub async fn recorded_analysis_keeps_only_the_mints_until_ranks_are_recomputed(db: &TestDb) {
    let a = Keys::generate();
    let y = random_point();
    let e = cashu_data(
        &a,
        vec![burns(0, "sat", &[(y, 1), (y, 1)])],
        None,
        1,
        RELAY_A,
    );
    let id = e.event.id;
    let outcome = db.store.write_batch(&batch(vec![e])).await.expect("write");
    let seq = outcome.queued.expect("queued");
    let key = mint_key(&a);
    let other = mint_key(&Keys::generate());
    let finding = NewFinding {
        mint: key,
        kind: FindingKind::DoubleSpend,
        key: y.to_hex(),
        y: Some(y),
        unit: None,
        epoch: None,
        event_ids: vec![id],
        detail: serde_json::json!({"times": 2}),
    };
    let touched: BTreeSet<_> = [key, other].into_iter().collect();
    let written = db
        .store
        .record_analysis(Some(seq), &[finding], &touched)
        .await
        .expect("record");
    assert_eq!(written, 1);
    assert_eq!(db.count("findings").await, 1);
    let queued = db.store.queued_batches(0, 10).await.expect("queued");
    assert_eq!(queued.len(), 1);
    assert!(queued[0].analysed);
    assert_eq!(queued[0].changes.changed, touched);
    assert!(queued[0].changes.ys.is_empty() && queued[0].changes.findings.is_empty());

    // Findings without a queued batch (a gap sweep) touch no row.
    db.store
        .record_analysis(None, &[], &BTreeSet::new())
        .await
        .expect("record");
    assert_eq!(db.store.ranks_recomputed(seq - 1).await.expect("none"), 0);
    assert_eq!(db.store.ranks_recomputed(seq).await.expect("forget"), 1);
    assert_eq!(db.store.queued_count().await.expect("count"), 0);
}
