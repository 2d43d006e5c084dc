//! Values held in memory that stay exact while the database changes under them.
//!
//! Each cache is an [`ExactCache`]: entries are served only while a [`listener`] is subscribed
//! to the cache's PostgreSQL notification channel (a trigger announces every change, whoever
//! makes it: this process, another replica, the CLI or plain SQL), every notification forgets
//! what it names, and a value loaded from the database is kept only if nothing was forgotten
//! while it was being loaded. A time-to-live bounds staleness should notifications stop unseen.
//!
//! - [`crate::auth::identities`]: the callers' identities (profile, roles, revocation instant).
//! - [`record_pages`]: pages of the records list, serialized.
//! - [`categories`]: the category lists, serialized.
//!
//! [`record_extent`] is of another kind: a statistic read once a minute, which only steers the
//! choice of a statement.

pub mod categories;
pub mod listener;
pub mod record_extent;
pub mod record_pages;

use std::{
    hash::Hash,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use moka::sync::Cache;

use listener::Subscriber;

/// A cache that serves entries only while change notifications are received; cheap to clone
/// (shared).
pub struct ExactCache<K, V> {
    inner: Arc<Inner<K, V>>,
}

impl<K, V> std::fmt::Debug for ExactCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExactCache")
            .field("enabled", &self.inner.entries.is_some())
            .field("listening", &self.inner.listening.load(Ordering::Relaxed))
            .finish()
    }
}

impl<K, V> Clone for ExactCache<K, V> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone() }
    }
}

struct Inner<K, V> {
    entries: Option<Cache<K, V>>,
    /// Bumped by every forget: a load that started before a forget must not store what it read.
    generation: AtomicU64,
    /// True while the listener is subscribed; entries are used only then.
    listening: AtomicBool,
}

/// Taken before loading a value from the database; storing the value with it fails if anything
/// was forgotten meanwhile (the value may predate that change).
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct Ticket(u64);

impl<K, V> ExactCache<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A cache over `entries` (built by the caller: capacity, weigher, time-to-live); `None`
    /// disables it (every lookup misses, nothing is stored).
    pub fn new(entries: Option<Cache<K, V>>) -> Self {
        Self { inner: Arc::new(Inner { entries, generation: AtomicU64::new(0), listening: AtomicBool::new(false) }) }
    }

    /// Whether the cache holds anything at all (not disabled by configuration).
    pub fn is_enabled(&self) -> bool {
        self.inner.entries.is_some()
    }

    /// The value held for `key`, while the listener is subscribed.
    pub fn get(&self, key: &K) -> Option<V> {
        self.usable()?.get(key)
    }

    /// Call before loading a value, then pass the ticket to [`ExactCache::store`].
    pub fn ticket(&self) -> Ticket {
        Ticket(self.inner.generation.load(Ordering::Acquire))
    }

    /// Keeps `value` for `key` unless something was forgotten since `ticket` was taken.
    pub fn store(&self, ticket: Ticket, key: K, value: V) {
        if let Some(entries) = self.usable()
            && self.inner.generation.load(Ordering::Acquire) == ticket.0
        {
            entries.insert(key, value);
        }
    }

    /// Forgets one key.
    pub fn forget(&self, key: &K) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        if let Some(entries) = &self.inner.entries {
            entries.invalidate(key);
        }
    }

    /// Forgets everything.
    pub fn forget_all(&self) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        if let Some(entries) = &self.inner.entries {
            entries.invalidate_all();
        }
    }

    /// True while change notifications are being received (entries are served only then).
    pub fn is_listening(&self) -> bool {
        self.inner.listening.load(Ordering::Acquire)
    }

    /// The listener subscribed (`true`) or lost its connection (`false`). Either way anything
    /// may have changed unannounced, so everything held is forgotten; when it was lost, nothing
    /// is served until it is back.
    pub fn set_listening(&self, listening: bool) {
        if listening {
            self.forget_all();
            self.inner.listening.store(true, Ordering::Release);
        } else {
            self.inner.listening.store(false, Ordering::Release);
            self.forget_all();
        }
    }

    /// The subscriber that empties this cache whole at every notification on `channel`: for a
    /// table whose trigger announces statements, not rows.
    pub fn emptied_by(&self, channel: &'static str) -> Arc<dyn Subscriber> {
        Arc::new(EmptiedBy { channel, cache: self.clone() })
    }

    fn usable(&self) -> Option<&Cache<K, V>> {
        self.inner.entries.as_ref().filter(|_| self.inner.listening.load(Ordering::Acquire))
    }
}

/// See [`ExactCache::emptied_by`].
struct EmptiedBy<K, V> {
    channel: &'static str,
    cache: ExactCache<K, V>,
}

impl<K, V> Subscriber for EmptiedBy<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn channel(&self) -> &'static str {
        self.channel
    }

    fn notified(&self, _payload: &str) {
        self.cache.forget_all();
    }

    fn set_listening(&self, listening: bool) {
        self.cache.set_listening(listening);
    }
}
