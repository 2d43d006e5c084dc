//! The callers' identities (profile with the active flag, roles, token revocation instant) held in
//! memory, so an authenticated request (and `/auth/me`, which answers with the identity) needs no
//! database round trip for its caller, while staying exact:
//!
//! - a write through this process forgets the user at once ([`IdentityCache::forget`]);
//! - a trigger on `"user"` and `user_roles` (migration `identity_notify`) sends the user's id on the
//!   `corpus_identity` channel for every change, whoever made it (another replica, the CLI, SQL),
//!   and each process's listener forgets that user within milliseconds;
//! - entries are served only while the listener is connected (a lost connection clears
//!   everything and reads go to the database until it is back), and for at most
//!   `IDENTITY_CACHE_SECONDS` whatever happens.

use std::{sync::Arc, time::Duration};

use moka::sync::Cache;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    cache::{ExactCache, listener::Subscriber},
    db::accounts::{self, Identity},
};

/// The notification channel the trigger writes to.
pub const CHANNEL: &str = "corpus_identity";
/// Most identities held at once (about 500 bytes each).
const CAPACITY: u64 = 100_000;

/// Identities of recent callers; cheap to clone (shared).
#[derive(Clone, Debug)]
pub struct IdentityCache {
    cache: ExactCache<Uuid, Arc<Identity>>,
}

impl IdentityCache {
    /// A cache keeping entries for at most `ttl`; a zero `ttl` disables it.
    pub fn new(ttl: Duration) -> Self {
        let entries = (!ttl.is_zero()).then(|| Cache::builder().max_capacity(CAPACITY).time_to_live(ttl).build());
        Self { cache: ExactCache::new(entries) }
    }

    /// The identity of `id`: from memory when it is known and the listener is up, otherwise from
    /// the database (and remembered if nothing changed meanwhile). `None` when no such user.
    pub async fn get(&self, db: &PgPool, id: Uuid) -> sqlx::Result<Option<Arc<Identity>>> {
        if let Some(found) = self.cache.get(&id) {
            return Ok(Some(found));
        }
        let ticket = self.cache.ticket();
        let Some(identity) = accounts::identity(db, id).await?.map(Arc::new) else { return Ok(None) };
        self.cache.store(ticket, id, identity.clone());
        Ok(Some(identity))
    }

    /// True while change notifications are being received (entries are served only then).
    pub fn is_listening(&self) -> bool {
        self.cache.is_listening()
    }

    /// Whether identities are held at all.
    pub fn is_enabled(&self) -> bool {
        self.cache.is_enabled()
    }

    /// Forgets one user (after a change to their account, roles or password).
    pub fn forget(&self, id: Uuid) {
        self.cache.forget(&id);
    }

    /// Forgets everyone (after a change to a role itself, which every holder shows).
    pub fn forget_all(&self) {
        self.cache.forget_all();
    }
}

impl Subscriber for IdentityCache {
    fn channel(&self) -> &'static str {
        CHANNEL
    }

    /// The payload is a user's id, or `*` after a change to a role (every holder shows it).
    fn notified(&self, payload: &str) {
        match Uuid::parse_str(payload) {
            Ok(id) => self.forget(id),
            Err(_) => self.forget_all(),
        }
    }

    fn set_listening(&self, listening: bool) {
        self.cache.set_listening(listening);
    }
}
