//! The publisher: each mint's NIP-85 assertion, re-published when its numbers change but at most
//! once per mint per interval, and one NIP-32 evidence label per unresolved finding, published
//! once (and again when its evidence changes).
//!
//! What was published is kept in memory, seeded at start from the indexer's own events on the
//! relays (the relays are where published events live, so no table of our own can disagree
//! with them): a restart neither re-publishes every label nor forgets when an assertion went
//! out.
//!
//! A scan reads only what changed since the previous one (mints re-ranked or re-described,
//! findings recorded or resolved, by the database's timestamps), so its cost follows the
//! activity, not the size of the index; every [`FULL_SCAN_EVERY`] it reads everything, which
//! forgets the labels of findings whose evidence changed and catches what no timestamp showed.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nostr_sdk::{Client, Filter, Kind};
use tracing::{debug, warn};

use mintwatch_protocol::kinds::{ASSERTION, LABEL};
use mintwatch_protocol::output::{
    build_assertion, build_evidence_label, parse_assertion, verify_evidence_label_structure,
    MintAssertion,
};
use mintwatch_protocol::{EventId, FindingKind, MintKey, Point, SignedEvent};
use mintwatch_store::{Store, StoreError};

use super::reports;

/// Counters of what the nostr outputs did, shared with the handle.
#[derive(Debug, Default)]
pub struct OutputStats {
    /// Assertions (30382) published.
    pub assertions: AtomicU64,
    /// Evidence labels (1985) published.
    pub labels: AtomicU64,
    /// Responses (28173) sent.
    pub responses: AtomicU64,
    /// Of those, `RATE_LIMITED`.
    pub rate_limited: AtomicU64,
    /// Requests not answered at all (over the rate again, or over the global rate).
    pub ignored: AtomicU64,
    /// Events the relays did not accept.
    pub send_failures: AtomicU64,
    /// Publisher scans completed.
    pub scans: AtomicU64,
}

impl OutputStats {
    /// A copy of the counters.
    pub fn snapshot(&self) -> OutputCounts {
        OutputCounts {
            assertions: self.assertions.load(Ordering::Relaxed),
            labels: self.labels.load(Ordering::Relaxed),
            responses: self.responses.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            ignored: self.ignored.load(Ordering::Relaxed),
            send_failures: self.send_failures.load(Ordering::Relaxed),
            scans: self.scans.load(Ordering::Relaxed),
        }
    }
}

/// [`OutputStats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutputCounts {
    /// Assertions (30382) published.
    pub assertions: u64,
    /// Evidence labels (1985) published.
    pub labels: u64,
    /// Responses (28173) sent.
    pub responses: u64,
    /// Of those, `RATE_LIMITED`.
    pub rate_limited: u64,
    /// Requests not answered at all (over the rate again, or over the global rate).
    pub ignored: u64,
    /// Events the relays did not accept.
    pub send_failures: u64,
    /// Publisher scans completed. Once this has gone up by two since a change to the store, a
    /// whole scan has read the change (the first may have read the store before it).
    pub scans: u64,
}

/// What makes two labels of one finding the same: the finding, mint, `Y`, proving events in
/// order, and detail. A label is published again only when this changes.
fn fingerprint(
    finding: FindingKind,
    mint: &MintKey,
    y: Option<&Point>,
    events: impl Iterator<Item = EventId>,
    detail: Option<&serde_json::Value>,
) -> String {
    let ids: Vec<String> = events.map(|e| e.to_hex()).collect();
    format!(
        "{finding}|{mint}|{}|{}|{}",
        y.map(Point::to_hex).unwrap_or_default(),
        ids.join(","),
        detail.map(|d| d.to_string()).unwrap_or_default()
    )
}

/// The fingerprint of the label `finding` would get, without loading its events.
fn finding_fingerprint(f: &reports::OpenFinding) -> Result<String, String> {
    let mut ids: Vec<EventId> = Vec::with_capacity(f.event_ids.len());
    for id in &f.event_ids {
        // build_evidence_label embeds a duplicate once; so does the fingerprint.
        if !ids.contains(id) {
            ids.push(*id);
        }
    }
    let detail = reports::label_detail(f)?;
    Ok(fingerprint(
        f.kind,
        &f.mint,
        f.y.as_ref(),
        ids.into_iter(),
        detail.as_ref(),
    ))
}

/// Sends a signed event to every relay of the client at once; true as soon as one accepted it.
///
/// Each relay is waited for on its own task: a relay that never answers `OK` (nostr-sdk waits
/// 10 s for it) neither delays this call past the first relay that accepts, nor the next event.
/// The other relays' answers are still awaited, in the background, and counted.
pub(crate) async fn send(client: &Client, event: &SignedEvent, stats: &OutputStats) -> bool {
    let kind = event.kind.to_string();
    let nostr_event = match event.to_nostr() {
        Ok(e) => e,
        Err(err) => {
            warn!(kind = %event.kind, error = %err, "event does not convert");
            stats.send_failures.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("mintwatch_nostr_publish_failures_total", "kind" => kind)
                .increment(1);
            return false;
        }
    };
    let mut sends = tokio::task::JoinSet::new();
    for (url, relay) in client.relays().await {
        let e = nostr_event.clone();
        sends.spawn(async move {
            let sent = relay.send_event(&e).await;
            if let Err(err) = &sent {
                metrics::counter!("mintwatch_nostr_relay_refusals_total").increment(1);
                tracing::debug!(relay = %url, error = %err, "relay did not accept an event");
            }
            sent.is_ok()
        });
    }
    let mut ok = false;
    while let Some(done) = sends.join_next().await {
        if done.unwrap_or(false) {
            ok = true;
            break;
        }
    }
    // The slower relays go on without us.
    sends.detach_all();
    if ok {
        metrics::counter!("mintwatch_nostr_events_published_total", "kind" => kind).increment(1);
    } else {
        warn!(kind = %event.kind, "no relay accepted the event");
        stats.send_failures.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("mintwatch_nostr_publish_failures_total", "kind" => kind).increment(1);
    }
    ok
}

/// How often a scan reads every report and every open finding.
pub const FULL_SCAN_EVERY: Duration = Duration::from_secs(600);

/// Seconds an incremental scan reads before its watermark: a row's timestamp is the start of the
/// transaction that wrote it, which can commit after a scan that began later.
const WATERMARK_SLACK_SECS: i64 = 60;

/// What one scan read and published.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanOutcome {
    /// Whether it read everything (the first scan, then every [`FULL_SCAN_EVERY`]).
    pub full: bool,
    /// Mint reports read.
    pub reports_read: u64,
    /// Findings read.
    pub findings_read: u64,
    /// Assertions published.
    pub assertions: u64,
    /// Assertions whose numbers changed but whose interval has not passed yet.
    pub deferred: u64,
    /// Labels published.
    pub labels: u64,
}

/// The publisher's memory of what it published.
pub struct Publisher {
    store: Store,
    keys: nostr::Keys,
    client: Client,
    interval: Duration,
    stats: Arc<OutputStats>,
    assertions: HashMap<MintKey, (MintAssertion, SystemTime)>,
    labels: HashSet<String>,
    /// Fingerprints whose label did not build (evidence missing or not verifying): not retried
    /// until the finding changes, so one bad finding does not fill the log every scan.
    unbuildable: HashSet<String>,
    /// Where the next incremental scan reads from (unix seconds, the database's clock).
    since: Option<i64>,
    last_full: Option<Instant>,
}

impl Publisher {
    /// A publisher that remembers nothing yet.
    pub fn new(
        store: Store,
        keys: nostr::Keys,
        client: Client,
        interval: Duration,
        stats: Arc<OutputStats>,
    ) -> Self {
        Self {
            store,
            keys,
            client,
            interval,
            stats,
            assertions: HashMap::new(),
            labels: HashSet::new(),
            unbuildable: HashSet::new(),
            since: None,
            last_full: None,
        }
    }

    /// How many assertions and labels it remembers having published (labels: of open findings
    /// only).
    pub fn remembered(&self) -> (usize, usize) {
        (self.assertions.len(), self.labels.len())
    }

    /// Learns what this key already published from the relays: its live assertions (with their
    /// time) and its labels. Events that do not verify or parse are ignored.
    pub async fn seed_from_relays(&mut self, timeout: Duration) {
        let me = self.keys.public_key();
        let filter = Filter::new()
            .author(me)
            .kinds([Kind::Custom(ASSERTION), Kind::Custom(LABEL)]);
        let events = match self.client.fetch_events(filter, timeout).await {
            Ok(events) => events,
            Err(e) => {
                warn!(error = %e, "could not read our published events back; starting afresh");
                return;
            }
        };
        for e in events.iter() {
            let e = SignedEvent::from(e);
            if e.kind == ASSERTION {
                if let Ok(a) = parse_assertion(&e) {
                    let at = UNIX_EPOCH + Duration::from_secs(e.created_at);
                    let newer = self
                        .assertions
                        .get(&a.mint)
                        .is_none_or(|(_, prev)| *prev < at);
                    if newer {
                        self.assertions.insert(a.mint, (a, at));
                    }
                }
            } else if let Ok(v) = verify_evidence_label_structure(&e) {
                self.labels.insert(fingerprint(
                    v.finding,
                    &v.mint,
                    v.y.as_ref(),
                    v.events.iter().map(|ev| ev.id),
                    v.detail.as_ref(),
                ));
            }
        }
        debug!(
            assertions = self.assertions.len(),
            labels = self.labels.len(),
            "publisher seeded from relays"
        );
    }

    /// Publishes what changed since the last scan.
    pub async fn scan(&mut self) -> Result<ScanOutcome, StoreError> {
        let full = self.since.is_none()
            || self
                .last_full
                .is_none_or(|at| at.elapsed() >= FULL_SCAN_EVERY);
        // The watermark is taken before reading: what changes during the scan is read next time.
        let db_now = reports::database_now(&self.store).await?;
        let since = match self.since {
            Some(since) if !full => Some(since),
            _ => None,
        };
        let mut outcome = ScanOutcome {
            full,
            ..ScanOutcome::default()
        };
        let report_list = match since {
            None => reports::mint_reports(&self.store, None).await?,
            Some(since) => {
                let changed = reports::mints_changed_since(&self.store, since).await?;
                if changed.is_empty() {
                    Vec::new()
                } else {
                    reports::mint_reports(&self.store, Some(&changed)).await?
                }
            }
        };
        outcome.reports_read = report_list.len() as u64;
        let now = SystemTime::now();
        for report in report_list {
            let Some(assertion) = report.assertion() else {
                continue;
            };
            if let Some((last, at)) = self.assertions.get(&assertion.mint) {
                if *last == assertion {
                    continue;
                }
                if now.duration_since(*at).unwrap_or_default() < self.interval {
                    outcome.deferred += 1;
                    continue;
                }
            }
            match build_assertion(&self.keys, &assertion) {
                Ok(event) => {
                    if send(&self.client, &event, &self.stats).await {
                        self.stats.assertions.fetch_add(1, Ordering::Relaxed);
                        outcome.assertions += 1;
                        self.assertions.insert(assertion.mint, (assertion, now));
                    }
                }
                Err(e) => warn!(mint = %assertion.mint, error = %e, "assertion not built"),
            }
        }

        let todo = match since {
            None => self.full_findings(&mut outcome).await?,
            Some(since) => self.changed_findings(since, &mut outcome).await?,
        };
        // Proving events are loaded only for labels to publish, a bounded number at a time.
        for chunk in todo.chunks(100) {
            let ids: Vec<EventId> = chunk
                .iter()
                .flat_map(|(f, _)| f.event_ids.iter().copied())
                .collect();
            let events = reports::events_by_id(&self.store, &ids).await?;
            for (f, print) in chunk {
                let label = reports::evidence_of(f, &events)
                    .and_then(|e| build_evidence_label(&self.keys, &e).map_err(|e| e.to_string()));
                match label {
                    Ok(label) => {
                        if send(&self.client, &label, &self.stats).await {
                            self.stats.labels.fetch_add(1, Ordering::Relaxed);
                            outcome.labels += 1;
                            self.labels.insert(print.clone());
                        }
                    }
                    Err(why) => {
                        warn!(mint = %f.mint, finding = %f.kind, %why, "label not built");
                        self.unbuildable.insert(print.clone());
                    }
                }
            }
        }
        self.since = Some(db_now.saturating_sub(WATERMARK_SLACK_SECS));
        if full {
            self.last_full = Some(Instant::now());
        }
        self.stats.scans.fetch_add(1, Ordering::Relaxed);
        Ok(outcome)
    }

    /// Every open finding: those without a label yet, and the sets narrowed to the open ones
    /// (what is no longer open, resolved or changed to a new fingerprint, is forgotten, so the
    /// sets hold at most the open findings, not every state a finding ever had).
    async fn full_findings(
        &mut self,
        outcome: &mut ScanOutcome,
    ) -> Result<Vec<(reports::OpenFinding, String)>, StoreError> {
        let findings = reports::open_findings(&self.store, None).await?;
        outcome.findings_read = findings.len() as u64;
        let mut todo = Vec::new();
        let mut open: HashSet<String> = HashSet::with_capacity(findings.len());
        for f in findings {
            match finding_fingerprint(&f) {
                Ok(print) => {
                    if !self.labels.contains(&print) && !self.unbuildable.contains(&print) {
                        todo.push((f, print.clone()));
                    }
                    open.insert(print);
                }
                Err(why) => warn!(mint = %f.mint, finding = %f.kind, %why, "no label detail"),
            }
        }
        self.labels.retain(|p| open.contains(p));
        self.unbuildable.retain(|p| open.contains(p));
        Ok(todo)
    }

    /// The findings recorded, re-recorded or resolved since `since`: new open ones to label,
    /// resolved ones forgotten.
    async fn changed_findings(
        &mut self,
        since: i64,
        outcome: &mut ScanOutcome,
    ) -> Result<Vec<(reports::OpenFinding, String)>, StoreError> {
        let changed = reports::findings_changed_since(&self.store, since).await?;
        outcome.findings_read = changed.len() as u64;
        let mut todo = Vec::new();
        for c in changed {
            let f = c.finding;
            match finding_fingerprint(&f) {
                Ok(print) if c.resolved => {
                    self.labels.remove(&print);
                    self.unbuildable.remove(&print);
                }
                Ok(print) => {
                    if !self.labels.contains(&print) && !self.unbuildable.contains(&print) {
                        todo.push((f, print));
                    }
                }
                Err(why) => warn!(mint = %f.mint, finding = %f.kind, %why, "no label detail"),
            }
        }
        Ok(todo)
    }
}
