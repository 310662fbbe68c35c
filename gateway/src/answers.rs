//! NMC answers by request id for the replay window (NMC.md §5): a request delivered again, by
//! another relay or re-published by its wallet, gets the same answer and never reaches the mint
//! a second time. Bounded in time (an answer is forgotten after `keep`, checked at least every
//! [`PRUNE_EVERY`], not only when a cap is reached), in count and in bytes: a requester choosing
//! answers near NMC's 65,408-byte limit must not make the window hold gigabytes. Past a cap the
//! oldest go first (a request delivered again after that reaches the mint again; the mint
//! refuses spending the same proofs twice either way).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mintwatch_protocol::EventId;

/// How often the cache forgets what is past `keep`, at most.
pub const PRUNE_EVERY: Duration = Duration::from_secs(10);

/// What the cache knows of a request id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Never seen (or forgotten).
    New,
    /// Being answered: the mint is being asked.
    InFlight,
    /// Answered: the response event's JSON.
    Answered(Arc<String>),
}

struct Entry {
    at: Instant,
    response: Option<Arc<String>>,
}

/// Answers by request id.
pub struct AnswerCache {
    entries: HashMap<EventId, Entry>,
    /// Every insertion, oldest first (an id inserted again leaves a stale earlier mark).
    order: VecDeque<(Instant, EventId)>,
    /// Bytes of the answers held.
    bytes: usize,
    keep: Duration,
    max: usize,
    max_bytes: usize,
    last_prune: Instant,
}

impl AnswerCache {
    /// Keeps each answer `keep` long, at most `max` of them and `max_bytes` of answers.
    pub fn new(keep: Duration, max: usize, max_bytes: usize, now: Instant) -> AnswerCache {
        AnswerCache {
            entries: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            keep,
            max: max.max(1),
            max_bytes,
            last_prune: now,
        }
    }

    /// What is known of `id` (forgetting what is due first).
    pub fn seen(&mut self, id: &EventId, now: Instant) -> Seen {
        if self.entries.len() >= self.max
            || now.saturating_duration_since(self.last_prune) >= PRUNE_EVERY
        {
            self.prune(now);
        }
        match self.entries.get(id) {
            None => Seen::New,
            Some(Entry { response: None, .. }) => Seen::InFlight,
            Some(Entry {
                response: Some(json),
                ..
            }) => Seen::Answered(json.clone()),
        }
    }

    /// `id` is being answered.
    pub fn start(&mut self, id: EventId, now: Instant) {
        self.insert(id, None, now);
    }

    /// `id`'s answer.
    pub fn answer(&mut self, id: EventId, json: Arc<String>, now: Instant) {
        self.insert(id, Some(json), now);
        while self.bytes > self.max_bytes && self.forget_oldest() {}
    }

    /// Bytes of the answers held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn insert(&mut self, id: EventId, response: Option<Arc<String>>, now: Instant) {
        self.bytes += response.as_ref().map_or(0, |r| r.len());
        if let Some(old) = self.entries.insert(id, Entry { at: now, response }) {
            self.bytes -= old.response.map_or(0, |r| r.len());
        }
        self.order.push_back((now, id));
    }

    /// Forgets the oldest mark's entry (if the mark is not stale); false when none is left.
    fn forget_oldest(&mut self) -> bool {
        let Some((at, id)) = self.order.pop_front() else {
            return false;
        };
        if self.entries.get(&id).is_some_and(|e| e.at == at) {
            if let Some(e) = self.entries.remove(&id) {
                self.bytes -= e.response.map_or(0, |r| r.len());
            }
        }
        true
    }

    /// Answers remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn prune(&mut self, now: Instant) {
        self.last_prune = now;
        while self
            .order
            .front()
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) >= self.keep)
        {
            self.forget_oldest();
        }
        // Room for the next one as well.
        while self.entries.len() >= self.max && self.forget_oldest() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> EventId {
        EventId([n; 32])
    }

    #[test]
    fn an_answer_is_given_again_within_the_window_and_forgotten_after_it() {
        let t0 = Instant::now();
        let mut cache = AnswerCache::new(Duration::from_secs(600), 50_000, usize::MAX, t0);
        assert_eq!(cache.seen(&id(1), t0), Seen::New);
        cache.start(id(1), t0);
        assert_eq!(cache.seen(&id(1), t0), Seen::InFlight);
        let json = Arc::new("{\"kind\":27339}".to_string());
        cache.answer(id(1), json.clone(), t0);
        let later = t0 + Duration::from_secs(599);
        assert_eq!(cache.seen(&id(1), later), Seen::Answered(json));
        // Past the window (and the next pruning) it is forgotten by time alone, far below
        // the count cap.
        let past = t0 + Duration::from_secs(600) + PRUNE_EVERY;
        assert_eq!(cache.seen(&id(2), past), Seen::New);
        assert!(cache.is_empty(), "forgotten: {} left", cache.len());
    }

    #[test]
    fn past_the_cap_the_oldest_are_forgotten_first() {
        let t0 = Instant::now();
        let mut cache = AnswerCache::new(Duration::from_secs(600), 3, usize::MAX, t0);
        for n in 0..3u8 {
            cache.answer(
                id(n),
                Arc::new(n.to_string()),
                t0 + Duration::from_secs(u64::from(n)),
            );
        }
        let now = t0 + Duration::from_secs(5);
        assert_eq!(cache.seen(&id(9), now), Seen::New);
        assert!(cache.len() < 3, "room for the next: {}", cache.len());
        assert_eq!(cache.seen(&id(0), now), Seen::New, "the oldest went first");
        assert!(matches!(cache.seen(&id(2), now), Seen::Answered(_)));
    }

    #[test]
    fn answers_past_the_byte_cap_are_forgotten_oldest_first() {
        let t0 = Instant::now();
        let mut cache = AnswerCache::new(Duration::from_secs(600), 50_000, 150_000, t0);
        let big = Arc::new("x".repeat(60_000));
        for n in 0..4u8 {
            cache.answer(id(n), big.clone(), t0 + Duration::from_secs(u64::from(n)));
        }
        assert!(cache.bytes() <= 150_000, "{} bytes held", cache.bytes());
        assert_eq!(cache.len(), 2);
        let now = t0 + Duration::from_secs(5);
        assert_eq!(cache.seen(&id(0), now), Seen::New);
        assert_eq!(cache.seen(&id(1), now), Seen::New);
        assert!(matches!(cache.seen(&id(3), now), Seen::Answered(_)));
        // An id answered again counts once.
        cache.answer(id(3), Arc::new("y".into()), now);
        assert_eq!(cache.bytes(), 60_000 + 1);
    }
}
