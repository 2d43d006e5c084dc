//! Pages of the records list (`GET /records/`), held serialized: a page asked for again (the
//! first page a reviewer or an admin opens, a client refreshing) is answered without a query,
//! row decoding or JSON encoding.
//!
//! Any change to `record` empties it: the `record_changed` trigger (migration `statement_notify`)
//! announces every statement that writes the table on `corpus_records`, from any process, and this
//! process also empties it after every request that may write (see `router`), so a client reading
//! after its own write through the same replica sees the write whatever the notification's timing.

use std::{
    io::Write,
    sync::{Arc, OnceLock},
    time::Duration,
};

use axum::{
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use flate2::{Compression, write::GzEncoder};
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

/// Smallest body sent compressed (as the router's compression layer decides for other answers).
const MIN_COMPRESSED: usize = 1024;

/// One page as answered.
#[derive(Debug)]
pub struct Page {
    /// The JSON body.
    body: Bytes,
    /// The `X-Next-Cursor` header, when more records may follow.
    next_cursor: Option<HeaderValue>,
    /// The body gzip-compressed, made the first time a client that accepts gzip asks (mobile
    /// clients do): held with the page, so a repeated page is not compressed again either.
    gzipped: OnceLock<Option<Bytes>>,
}

impl Page {
    /// A page with its JSON body and the cursor of the next page.
    pub fn new(body: Bytes, next_cursor: Option<HeaderValue>) -> Self {
        Self { body, next_cursor, gzipped: OnceLock::new() }
    }

    /// The answer to a request with `request_headers`: the JSON body, gzip-compressed when the
    /// client accepts gzip (the compression layer leaves an encoded answer alone, and compresses
    /// the plain one for clients that accept only br), with the cursor header.
    pub fn response(&self, cursor_header: &header::HeaderName, request_headers: &HeaderMap) -> Response {
        let gzipped = (self.body.len() >= MIN_COMPRESSED && accepts_gzip(request_headers))
            .then(|| self.gzipped.get_or_init(|| gzip(&self.body)).clone())
            .flatten();
        let json = (header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let vary = (header::VARY, HeaderValue::from_static("accept-encoding"));
        let mut response = match gzipped {
            Some(body) => {
                ([json, vary, (header::CONTENT_ENCODING, HeaderValue::from_static("gzip"))], body).into_response()
            }
            None => ([json, vary], self.body.clone()).into_response(),
        };
        if let Some(next) = &self.next_cursor {
            response.headers_mut().insert(cursor_header.clone(), next.clone());
        }
        response
    }
}

/// `bytes` gzip-compressed at the default level; `None` should the encoder fail.
fn gzip(bytes: &[u8]) -> Option<Bytes> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::default());
    encoder.write_all(bytes).ok()?;
    encoder.finish().ok().map(Bytes::from)
}

/// Whether `Accept-Encoding` allows gzip: listed (or `x-gzip`) with a non-zero quality, or not
/// listed and `*` allowed.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut gzip = None;
    let mut any = None;
    for value in headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()) {
        for item in value.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let quality =
                parts.find_map(|p| p.trim().strip_prefix("q=")).map_or(1.0, |q| q.trim().parse::<f32>().unwrap_or(0.0));
            if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
                gzip = Some(quality > 0.0);
            } else if name == "*" {
                any = Some(quality > 0.0);
            }
        }
    }
    gzip.or(any).unwrap_or(false)
}

/// Recently answered pages; cheap to clone (shared).
#[derive(Clone, Debug)]
pub struct RecordPages {
    cache: ExactCache<PageKey, Arc<Page>>,
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

    /// What keeps the pages exact: every notification on [`CHANNEL`] forgets them all.
    pub fn subscriber(&self) -> Arc<dyn Subscriber> {
        self.cache.emptied_by(CHANNEL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepting(values: &[&str]) -> bool {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        }
        accepts_gzip(&headers)
    }

    #[test]
    fn gzip_is_sent_only_when_the_client_allows_it() {
        assert!(accepting(&["gzip"]));
        assert!(accepting(&["br, GZIP;q=0.5"]));
        assert!(accepting(&["deflate", "x-gzip"]));
        assert!(accepting(&["*"]));
        assert!(!accepting(&[]));
        assert!(!accepting(&["br"]));
        assert!(!accepting(&["gzip;q=0"]));
        assert!(!accepting(&["gzip; q=0.0, *"]));
        assert!(!accepting(&["*;q=0"]));
        assert!(!accepting(&["identity"]));
    }

    #[test]
    fn a_page_is_compressed_once_and_answers_the_same_bytes() {
        let body = Bytes::from(serde_json::to_vec(&vec!["record"; 500]).unwrap());
        let page = Page::new(body.clone(), None);
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip, br"));
        let first = page.response(&header::ETAG, &headers);
        assert_eq!(first.headers()[header::CONTENT_ENCODING], "gzip");
        let held = page.gzipped.get().cloned().flatten().unwrap();
        assert!(held.len() < body.len() / 10);
        let mut unpacked = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&held[..]), &mut unpacked).unwrap();
        assert_eq!(unpacked, body);
        // Small pages and clients without gzip get the plain body.
        let plain = page.response(&header::ETAG, &HeaderMap::new());
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        let small = Page::new(Bytes::from_static(b"[]"), None).response(&header::ETAG, &headers);
        assert!(small.headers().get(header::CONTENT_ENCODING).is_none());
    }
}
