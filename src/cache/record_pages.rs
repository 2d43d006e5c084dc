//! Pages of the records list (`GET /records/`), held serialized: a page asked for again (the
//! first page a reviewer or an admin opens, a client refreshing) is answered without a query,
//! row decoding or JSON encoding.
//!
//! Any change to `record` empties it: the trigger of migration `record_notify` announces every
//! statement that writes the table on `corpus_records`, from any process, and this process also
//! empties it after every request that may write (see `router`), so a client reading after its
//! own write through the same replica sees the write whatever the notification's timing.

use std::{sync::Arc, time::Duration};

use axum::{
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use moka::sync::Cache;

use super::{ExactCache, Ticket, listener::Subscriber};
use crate::db::records::Visibility;

/// The notification channel the trigger writes to.
pub const CHANNEL: &str = "corpus_records";
/// Bytes of pages held at most (a page of 100 records is about 70 KB).
const CAPACITY_BYTES: u64 = 16 * 1024 * 1024;

/// Which page: who asks (what they may see) and the query string exactly as sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageKey {
    visibility: Visibility,
    query: String,
}

impl PageKey {
    /// The key of the page `query` selects for a caller who sees `visibility`.
    pub fn new(visibility: Visibility, query: Option<String>) -> Self {
        Self { visibility, query: query.unwrap_or_default() }
    }
}

/// One page as answered.
#[derive(Debug)]
pub struct Page {
    /// The JSON body.
    pub body: Bytes,
    /// The `X-Next-Cursor` header, when more records may follow.
    pub next_cursor: Option<HeaderValue>,
}

impl Page {
    /// The answer: the body as JSON, with the cursor header.
    pub fn response(&self, cursor_header: &header::HeaderName) -> Response {
        let mut response =
            ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], self.body.clone()).into_response();
        if let Some(next) = &self.next_cursor {
            response.headers_mut().insert(cursor_header.clone(), next.clone());
        }
        response
    }
}

/// Recently answered pages; cheap to clone (shared).
#[derive(Clone)]
pub struct RecordPages {
    cache: ExactCache<PageKey, Arc<Page>>,
}

impl std::fmt::Debug for RecordPages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordPages")
            .field("enabled", &self.cache.is_enabled())
            .field("listening", &self.cache.is_listening())
            .finish()
    }
}

impl RecordPages {
    /// Pages kept for at most `ttl`; a zero `ttl` disables the cache.
    pub fn new(ttl: Duration) -> Self {
        let entries = (!ttl.is_zero()).then(|| {
            Cache::builder()
                .max_capacity(CAPACITY_BYTES)
                .weigher(|key: &PageKey, page: &Arc<Page>| {
                    u32::try_from(key.query.len() + page.body.len()).unwrap_or(u32::MAX)
                })
                .time_to_live(ttl)
                .build()
        });
        Self { cache: ExactCache::new(entries) }
    }

    /// The page held for `key`, if any.
    pub fn get(&self, key: &PageKey) -> Option<Arc<Page>> {
        self.cache.get(key)
    }

    /// Take before reading a page from the database, then pass to [`RecordPages::store`].
    pub fn ticket(&self) -> Ticket {
        self.cache.ticket()
    }

    /// Keeps a page just read, unless a record changed since `ticket`.
    pub fn store(&self, ticket: Ticket, key: PageKey, page: Arc<Page>) {
        self.cache.store(ticket, key, page);
    }

    /// Forgets every page (after a request that may have changed records).
    pub fn forget_all(&self) {
        self.cache.forget_all();
    }

    /// True while change notifications are being received (pages are served only then).
    pub fn is_listening(&self) -> bool {
        self.cache.is_listening()
    }

    /// Whether pages are held at all.
    pub fn is_enabled(&self) -> bool {
        self.cache.is_enabled()
    }
}

impl Subscriber for RecordPages {
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
