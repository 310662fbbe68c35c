//! The set of mint keys whose kind 1337 events crawl asks for.
//!
//! Crawl does not parse content, so it cannot learn mint keys itself: a later stage (verify)
//! adds a key once a 4919 or 11467 signed by it has verified and parsed, or a 38172 it signed
//! about itself. Every relay task watches the set and widens its `mint-authors` subscription when
//! it grows. Anyone can make a key and sign such events, so the set is capped
//! ([`CrawlConfig::max_mint_authors`](crate::crawl::CrawlConfig::max_mint_authors)): past the
//! cap a key is refused (counted, and logged at most once a minute), since each 250 keys cost one
//! more subscription on every relay.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use mintwatch_protocol::MintKey;
use tokio::sync::watch;

/// A shared, growing set of known mint keys. Cloning gives another handle to the same set.
#[derive(Debug, Clone)]
pub struct KnownMints {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    keys: RwLock<BTreeSet<MintKey>>,
    /// Keys at most.
    cap: usize,
    /// Keys refused because the set was full.
    refused: AtomicU64,
    /// When a refusal was last logged.
    last_warned: Mutex<Option<Instant>>,
    /// Bumped on every growth so relay tasks wake up without polling.
    version: watch::Sender<u64>,
}

impl Default for KnownMints {
    fn default() -> Self {
        Self::new()
    }
}

/// How often refusals past the cap are logged at most.
const WARN_EVERY: Duration = Duration::from_secs(60);

impl KnownMints {
    /// An empty set without a cap worth mentioning (tests).
    pub fn new() -> Self {
        Self::with_cap(usize::MAX)
    }

    /// An empty set of at most `cap` keys.
    pub fn with_cap(cap: usize) -> Self {
        let (version, _) = watch::channel(0);
        Self {
            inner: Arc::new(Inner {
                keys: RwLock::new(BTreeSet::new()),
                cap,
                refused: AtomicU64::new(0),
                last_warned: Mutex::new(None),
                version,
            }),
        }
    }

    /// Keys refused so far because the set was full.
    pub fn refused(&self) -> u64 {
        self.inner.refused.load(Ordering::Relaxed)
    }

    fn count_refused(&self, n: u64) {
        let total = self.inner.refused.fetch_add(n, Ordering::Relaxed) + n;
        metrics::counter!("mintwatch_mint_keys_refused_total").increment(n);
        let mut last = self
            .inner
            .last_warned
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if last.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
            *last = Some(Instant::now());
            tracing::warn!(
                cap = self.inner.cap,
                refused = total,
                "the set of mint keys crawled for kind 1337 is full; new keys are refused"
            );
        }
    }

    /// Adds a key; returns whether it was new.
    pub fn insert(&self, key: MintKey) -> bool {
        self.extend([key]) == 1
    }

    /// Adds keys, up to the cap; returns how many were new. Relay tasks are woken once per call.
    pub fn extend(&self, keys: impl IntoIterator<Item = MintKey>) -> usize {
        let (added, refused) = {
            // A panic elsewhere while holding the lock cannot leave a BTreeSet half-updated in
            // a way that matters here, so a poisoned lock is still usable.
            let mut set = self
                .inner
                .keys
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            let (mut added, mut refused) = (0usize, 0u64);
            for k in keys {
                if set.contains(&k) {
                    continue;
                }
                if set.len() >= self.inner.cap {
                    refused += 1;
                } else {
                    set.insert(k);
                    added += 1;
                }
            }
            (added, refused)
        };
        if refused > 0 {
            self.count_refused(refused);
        }
        if added > 0 {
            self.inner.version.send_modify(|v| *v += 1);
        }
        added
    }

    /// Whether the key is known.
    pub fn contains(&self, key: &MintKey) -> bool {
        self.read().contains(key)
    }

    /// How many keys are known.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether no key is known.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// A copy of the current set.
    pub fn snapshot(&self) -> BTreeSet<MintKey> {
        self.read().clone()
    }

    /// A receiver that changes whenever the set grows.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.version.subscribe()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeSet<MintKey>> {
        self.inner
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> MintKey {
        let secp = secp256k1::Secp256k1::new();
        let sk = secp256k1::SecretKey::from_slice(&[n.max(1); 32]).expect("key");
        let (xonly, _) = sk.x_only_public_key(&secp);
        MintKey::from_x_only_bytes(xonly.serialize()).expect("mint key")
    }

    #[test]
    fn past_the_cap_keys_are_refused_and_counted() {
        let known = KnownMints::with_cap(2);
        assert_eq!(known.extend([key(1), key(2), key(3)]), 2);
        assert_eq!(known.len(), 2);
        assert_eq!(known.refused(), 1);
        // A key already in the set is not a refusal.
        assert_eq!(known.extend([key(1)]), 0);
        assert_eq!(known.refused(), 1);
        assert!(!known.insert(key(4)));
        assert_eq!(known.refused(), 2);
        assert!(!known.contains(&key(4)));
    }
}
