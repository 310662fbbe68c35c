//! The set of mint keys whose kind 1337 events crawl asks for.
//!
//! Crawl does not parse content, so it cannot learn mint keys itself: a later stage (verify)
//! adds a key once a verified 38172 (whose `d` is a key), 11467 or 4919 names it. Every relay
//! task watches the set and widens its `mint-authors` subscription when it grows.

use std::collections::BTreeSet;
use std::sync::{Arc, PoisonError, RwLock};

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
    /// Bumped on every growth so relay tasks wake up without polling.
    version: watch::Sender<u64>,
}

impl Default for KnownMints {
    fn default() -> Self {
        Self::new()
    }
}

impl KnownMints {
    /// An empty set.
    pub fn new() -> Self {
        let (version, _) = watch::channel(0);
        Self {
            inner: Arc::new(Inner {
                keys: RwLock::new(BTreeSet::new()),
                version,
            }),
        }
    }

    /// Adds a key; returns whether it was new.
    pub fn insert(&self, key: MintKey) -> bool {
        self.extend([key]) == 1
    }

    /// Adds keys; returns how many were new. Relay tasks are woken once per call.
    pub fn extend(&self, keys: impl IntoIterator<Item = MintKey>) -> usize {
        let added = {
            // A panic elsewhere while holding the lock cannot leave a BTreeSet half-updated in
            // a way that matters here, so a poisoned lock is still usable.
            let mut set = self
                .inner
                .keys
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            keys.into_iter().filter(|k| set.insert(*k)).count()
        };
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
