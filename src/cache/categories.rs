//! The category lists (`GET /categories/`), held serialized: every client asks for them when it
//! starts, and they change rarely (an admin's edit).
//!
//! Any change to `category` empties it: the `category_changed` trigger (migration
//! `statement_notify`) announces every statement that writes the table on [`CHANNEL`], from any
//! process (the state subscribes the cache with [`ExactCache::emptied_by`]), and the category
//! handlers of this process also empty it after each write (`http::categories`).

use std::time::Duration;

use bytes::Bytes;
use moka::sync::Cache;

use super::ExactCache;

/// The notification channel the trigger writes to.
pub const CHANNEL: &str = "corpus_categories";

/// The category lists as answered (JSON), keyed by whether they include the unpublished
/// categories (the admins' list) or not.
pub type CategoryLists = ExactCache<bool, Bytes>;

/// Lists kept for at most `ttl`; a zero `ttl` disables the cache.
pub fn lists(ttl: Duration) -> CategoryLists {
    // Two lists at most: with and without the unpublished categories.
    ExactCache::new((!ttl.is_zero()).then(|| Cache::builder().max_capacity(2).time_to_live(ttl).build()))
}
