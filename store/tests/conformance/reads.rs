//! The reads the API and the nostr outputs make.

use mintwatch_protocol::output::{DirectoryQuery, Sort};
use mintwatch_protocol::{EventId, FindingKind};
use mintwatch_store::read::{
    check_spent, daily_activity, events_by_id, findings_page, latest_findings, mint_cores,
    mint_report, open_findings, reviews_page, search_mints, store_stats, DayActivity,
    FindingsFilter, ReadError,
};
use mintwatch_store::NewFinding;
use nostr::Keys;

use crate::support::*;

pub async fn search_mints_pages_the_directory(db: &TestDb) {
    let signers: Vec<Keys> = (0..5).map(|_| Keys::generate()).collect();
    let events = signers
        .iter()
        .enumerate()
        .map(|(i, k)| {
            announcement(
                k,
                &mint_key(k),
                &format!("https://m{i}.example"),
                &format!("Mint {i}"),
                10 + i as u64,
            )
        })
        .collect();
    db.store.write_batch(&batch(events)).await.expect("write");
    let mut query = DirectoryQuery {
        sort: Sort::Activity,
        limit: Some(2),
        ..DirectoryQuery::default()
    };
    let mut names = Vec::new();
    for _ in 0..5 {
        let page = search_mints(db.store.pool(), &query).await.expect("page");
        names.extend(page.mints.into_iter().filter_map(|m| m.name));
        match page.next_cursor {
            Some(c) => query.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(names, ["Mint 4", "Mint 3", "Mint 2", "Mint 1", "Mint 0"]);
    // A forged cursor is the caller's error, not the database's.
    query.cursor = Some("not-a-cursor".into());
    assert!(matches!(
        search_mints(db.store.pool(), &query).await,
        Err(ReadError::BadCursor(_))
    ));
}

pub async fn findings_page_lists_a_mints_findings(db: &TestDb) {
    let key = mint_key(&Keys::generate());
    let other = mint_key(&Keys::generate());
    let f = |mint, kind, k: &str| NewFinding {
        mint,
        kind,
        key: k.to_string(),
        y: None,
        unit: None,
        epoch: None,
        event_ids: vec![EventId([4; 32])],
        detail: serde_json::json!({"k": k}),
    };
    db.store
        .upsert_findings(&[
            f(key, FindingKind::Gap, "a"),
            f(key, FindingKind::Fork, "b"),
            f(key, FindingKind::Gap, "c"),
            f(other, FindingKind::Gap, "d"),
        ])
        .await
        .expect("findings");
    let filter = FindingsFilter {
        kind: Some(FindingKind::Gap),
        limit: Some(1),
        ..FindingsFilter::default()
    };
    let first = findings_page(db.store.pool(), &key, &filter)
        .await
        .expect("page");
    assert_eq!(first.findings.len(), 1);
    assert_eq!(first.findings[0].kind, "gap");
    assert_eq!(first.findings[0].events, vec![EventId([4; 32]).to_hex()]);
    let next = FindingsFilter {
        cursor: first.next_cursor.clone(),
        ..filter.clone()
    };
    let second = findings_page(db.store.pool(), &key, &next)
        .await
        .expect("page");
    assert_eq!(second.findings.len(), 1);
    assert_eq!(second.next_cursor, None);
    let details: Vec<_> = [&first, &second]
        .iter()
        .map(|p| p.findings[0].detail["k"].clone())
        .collect();
    assert_eq!(
        details,
        vec![serde_json::json!("a"), serde_json::json!("c")]
    );
    let all = findings_page(db.store.pool(), &key, &FindingsFilter::default())
        .await
        .expect("page");
    assert_eq!(all.findings.len(), 3);
}

pub async fn reviews_page_pages_newest_first(db: &TestDb) {
    let key = mint_key(&Keys::generate());
    let authors: Vec<Keys> = (0..3).map(|_| Keys::generate()).collect();
    let reviews: Vec<_> = authors
        .iter()
        .enumerate()
        .map(|(i, a)| review(a, &key, 5.0, &format!("r{i}"), 100 + i as u64))
        .collect();
    db.store.write_batch(&batch(reviews)).await.expect("write");
    let first = reviews_page(db.store.pool(), &key, Some(2), None)
        .await
        .expect("page");
    let texts: Vec<_> = first.reviews.iter().map(|r| r.text.clone()).collect();
    assert_eq!(texts, ["r2", "r1"]);
    let second = reviews_page(db.store.pool(), &key, Some(2), first.next_cursor.as_deref())
        .await
        .expect("page");
    assert_eq!(second.reviews.len(), 1);
    assert_eq!(second.reviews[0].text, "r0");
    assert_eq!(second.next_cursor, None);
    assert!(matches!(
        reviews_page(db.store.pool(), &key, Some(0), None).await,
        Err(ReadError::Invalid(_))
    ));
}

pub async fn mint_cores_and_report_read_the_directory_row(db: &TestDb) {
    let (a, b) = (Keys::generate(), Keys::generate());
    let (ka, kb) = (mint_key(&a), mint_key(&b));
    db.store
        .write_batch(&batch(vec![
            cashu_data(
                &a,
                vec![
                    mints(0, "sat", &[10]),
                    burns(0, "sat", &[(random_point(), 4)]),
                ],
                None,
                5,
                RELAY_A,
            ),
            announcement(&b, &kb, "https://b.example", "B", 6),
        ]))
        .await
        .expect("write");
    let mut keys = [ka, kb];
    keys.sort();
    let all = mint_cores(&db.store, None).await.expect("cores");
    assert_eq!(
        all.iter().map(|c| c.key.clone()).collect::<Vec<_>>(),
        keys.iter()
            .map(|k| k.as_bytes().to_vec())
            .collect::<Vec<_>>()
    );
    let a_core = all
        .iter()
        .find(|c| c.key == ka.as_bytes().to_vec())
        .expect("a");
    assert_eq!(a_core.outstanding()[0].amount, 6);
    assert_eq!(a_core.findings.len(), FindingKind::ALL.len());
    let report = mint_report(&db.store, &kb)
        .await
        .expect("report")
        .expect("listed");
    assert_eq!(report.key, kb.to_hex());
    assert_eq!(report.info.name.as_deref(), Some("B"));
    assert_eq!(report.relays, vec![RELAY_A.to_string()]);
    assert!(mint_report(&db.store, &mint_key(&Keys::generate()))
        .await
        .expect("report")
        .is_none());
}

pub async fn check_spent_answers_in_the_order_asked(db: &TestDb) {
    let mint = Keys::generate();
    let (y1, y2) = (random_point(), random_point());
    let e = cashu_data(
        &mint,
        vec![burns(0, "sat", &[(y1, 1), (y1, 1)])],
        None,
        1,
        RELAY_A,
    );
    let id = e.event.id;
    db.store.write_batch(&batch(vec![e])).await.expect("write");
    db.store
        .upsert_findings(&[NewFinding {
            mint: mint_key(&mint),
            kind: FindingKind::DoubleSpend,
            key: y1.to_hex(),
            y: Some(y1),
            unit: None,
            epoch: None,
            event_ids: vec![id],
            detail: serde_json::json!({}),
        }])
        .await
        .expect("finding");
    let answer = check_spent(&db.store, &[y2, y1, y2]).await.expect("spent");
    assert_eq!(answer.len(), 3);
    assert_eq!(answer[0].y, y2.to_hex());
    assert!(answer[0].burnt.is_empty() && answer[0].findings.is_empty());
    assert_eq!(answer[1].burnt.len(), 1);
    assert_eq!(answer[1].burnt[0].entries, 2);
    assert_eq!(answer[1].burnt[0].events, vec![id.to_hex()]);
    assert_eq!(answer[1].findings[0].kind, "double-spend");
    assert_eq!(answer[2], answer[0]);
    let too_many = vec![y1; mintwatch_store::read::MAX_SPENT_YS + 1];
    assert!(matches!(
        check_spent(&db.store, &too_many).await,
        Err(ReadError::Invalid(_))
    ));
}

pub async fn store_stats_count_what_is_stored(db: &TestDb) {
    let mint = Keys::generate();
    let key = mint_key(&mint);
    db.store
        .write_batch(&batch(vec![
            cashu_data(
                &mint,
                vec![
                    mints(0, "sat", &[1, 2]),
                    burns(0, "sat", &[(random_point(), 1)]),
                ],
                None,
                1,
                RELAY_A,
            ),
            review(&Keys::generate(), &key, 5.0, "ok", 2),
        ]))
        .await
        .expect("write");
    let stats = store_stats(&db.store).await.expect("stats");
    let s = &stats.store;
    assert_eq!(s.events, 2);
    assert_eq!(s.events_by_kind.get("4919"), Some(&1));
    assert_eq!(s.events_by_kind.get("38000"), Some(&1));
    assert_eq!((s.mints, s.burns, s.issued, s.reviews), (1, 1, 2, 1));
    assert_eq!(s.mints_by_identity.get("unbound"), Some(&1));
    assert_eq!(s.findings.len(), FindingKind::ALL.len());
    assert_eq!(stats.relays.len(), 1);
    assert_eq!(stats.relays[0].events_seen, 2);
}

pub async fn open_findings_come_with_their_events(db: &TestDb) {
    let mint = Keys::generate();
    let key = mint_key(&mint);
    let e = fin_epoch(&mint, 0, 1, 1);
    let id = e.event.id;
    db.store.write_batch(&batch(vec![e])).await.expect("write");
    let f = |k: &str| NewFinding {
        mint: key,
        kind: FindingKind::BalanceMismatch,
        key: k.to_string(),
        y: None,
        unit: Some(unit("sat")),
        epoch: Some(mintwatch_protocol::Epoch::new(0).expect("epoch")),
        event_ids: vec![id],
        detail: serde_json::json!({"claimed": "1"}),
    };
    db.store
        .upsert_findings(&[f("a"), f("b")])
        .await
        .expect("findings");
    db.store
        .resolve_findings(FindingKind::BalanceMismatch, &[(key, "b".into())])
        .await
        .expect("resolve");
    let open = open_findings(&db.store, Some(&key)).await.expect("open");
    assert_eq!(open.len(), 1);
    assert_eq!(
        (open[0].key.as_str(), open[0].event_ids.clone()),
        ("a", vec![id])
    );
    assert_eq!(open[0].unit.as_ref().map(|u| u.as_str()), Some("sat"));
    assert!(open_findings(&db.store, Some(&mint_key(&Keys::generate())))
        .await
        .expect("none")
        .is_empty());
    assert_eq!(open_findings(&db.store, None).await.expect("all").len(), 1);
    let events = events_by_id(&db.store, &[id, EventId([5; 32])])
        .await
        .expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[&id].id, id);
    assert!(events_by_id(&db.store, &[]).await.expect("none").is_empty());
}

pub async fn daily_activity_sums_each_unit_per_day(db: &TestDb) {
    const DAY: u64 = 86_400;
    let (a, b) = (Keys::generate(), Keys::generate());
    let first = cashu_data(
        &a,
        vec![
            mints(0, "sat", &[10, 5]),
            burns(0, "sat", &[(random_point(), 4)]),
        ],
        None,
        2 * DAY + 5,
        RELAY_A,
    );
    let prev = first.event.id;
    db.store
        .write_batch(&batch(vec![
            first,
            cashu_data(
                &a,
                vec![
                    burns(0, "sat", &[(random_point(), 3)]),
                    mints(0, "usd", &[7]),
                ],
                Some(prev),
                2 * DAY + 50,
                RELAY_A,
            ),
            cashu_data(&a, vec![mints(1, "sat", &[2])], None, 3 * DAY, RELAY_A),
            cashu_data(&b, vec![mints(0, "sat", &[100])], None, 2 * DAY, RELAY_A),
        ]))
        .await
        .expect("write");
    let day = |day: i64, unit: &str, burn_amount: u128, mint_amount: u128| DayActivity {
        day,
        unit: unit.into(),
        burn_amount,
        mint_amount,
    };
    assert_eq!(
        daily_activity(db.store.pool(), &mint_key(&a))
            .await
            .expect("activity"),
        vec![
            day(2, "sat", 7, 15),
            day(3, "sat", 0, 2),
            day(2, "usd", 0, 7)
        ],
        "per unit, then day; both epochs of a day in one row; only this mint"
    );
    assert!(
        daily_activity(db.store.pool(), &mint_key(&Keys::generate()))
            .await
            .expect("activity")
            .is_empty()
    );
}

pub async fn latest_findings_are_newest_first_across_mints(db: &TestDb) {
    let (a, b) = (Keys::generate(), Keys::generate());
    let (ka, kb) = (mint_key(&a), mint_key(&b));
    db.store
        .write_batch(&batch(vec![announcement(
            &a,
            &ka,
            "https://a.example",
            "A",
            3,
        )]))
        .await
        .expect("write");
    for (mint, n) in [(ka, 0), (kb, 1), (ka, 2)] {
        let y = random_point();
        db.store
            .upsert_findings(&[NewFinding {
                mint,
                kind: FindingKind::DoubleSpend,
                key: y.to_hex(),
                y: Some(y),
                unit: None,
                epoch: None,
                event_ids: vec![],
                detail: serde_json::json!({ "n": n }),
            }])
            .await
            .expect("finding");
    }
    let all = latest_findings(db.store.pool(), 10, None)
        .await
        .expect("findings");
    assert_eq!(
        all.iter()
            .map(|f| f.finding.detail["n"].as_i64())
            .collect::<Vec<_>>(),
        vec![Some(2), Some(1), Some(0)],
        "newest first"
    );
    assert_eq!(all[0].mint, ka.to_hex());
    assert_eq!(all[0].mint_name.as_deref(), Some("A"));
    assert_eq!(
        all[1].mint_name, None,
        "a mint without an announcement has no name"
    );
    assert!(all.windows(2).all(|w| w[0].finding.id > w[1].finding.id));
    let older = latest_findings(db.store.pool(), 1, Some(all[0].finding.id))
        .await
        .expect("page");
    assert_eq!(older.len(), 1);
    assert_eq!(
        older[0].finding.id, all[1].finding.id,
        "`before` pages back"
    );
    assert!(matches!(
        latest_findings(db.store.pool(), 0, None).await,
        Err(ReadError::Invalid(_))
    ));
}
