//! The category lists (`GET /categories/`), held serialized: every client asks for them when it
//! starts, and they change rarely (an admin's edit).
//!
//! Any change to `category` empties it: the trigger of migration `category_notify` announces every
//! statement that writes the table on `corpus_categories`, from any process, and this process also
//! empties it after every request that may write (see `router`).

use std::time::Duration;

use bytes::Bytes;
use moka::sync::Cache;

use super::{ExactCache, Ticket, listener::Subscriber};

/// The notification channel the trigger writes to.
pub const CHANNEL: &str = "corpus_categories";

/// Which list: with the unpublished categories (admins) or without.
pub type ListKey = bool;

/// The category lists as answered (JSON); cheap to clone (shared).
#[derive(Clone, Debug)]
pub struct CategoryLists {
    cache: ExactCache<ListKey, Bytes>,
}

impl CategoryLists {
    /// Lists kept for at most `ttl`; a zero `ttl` disables the cache.
    pub fn new(ttl: Duration) -> Self {
        // Two lists at most: with and without the unpublished categories.
        let entries = (!ttl.is_zero()).then(|| Cache::builder().max_capacity(2).time_to_live(ttl).build());
        Self { cache: ExactCache::new(entries) }
    }

    /// The list held for `key`, if any.
    pub fn get(&self, key: ListKey) -> Option<Bytes> {
        self.cache.get(&key)
    }

    /// Take before reading a list from the database, then pass to [`CategoryLists::store`].
    pub fn ticket(&self) -> Ticket {
        self.cache.ticket()
    }

    /// Keeps a list just read, unless a category changed since `ticket`.
    pub fn store(&self, ticket: Ticket, key: ListKey, body: Bytes) {
        self.cache.store(ticket, key, body);
    }

    /// Forgets both lists (after a request that may have changed categories).
    pub fn forget_all(&self) {
        self.cache.forget_all();
    }

    /// True while change notifications are being received (lists are served only then).
    pub fn is_listening(&self) -> bool {
        self.cache.is_listening()
    }

    /// Whether lists are held at all.
    pub fn is_enabled(&self) -> bool {
        self.cache.is_enabled()
    }
}

impl Subscriber for CategoryLists {
    fn channel(&self) -> &'static str {
        CHANNEL
    }

    fn notified(&self, _payload: &str) {
        self.cache.forget_all();
    }

    fn set_listening(&self, listening: bool) {
        self.cache.set_listening(listening);
    }
}
