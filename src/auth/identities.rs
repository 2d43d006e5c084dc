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

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use moka::sync::Cache;
use sqlx::{PgPool, postgres::PgListener};
use uuid::Uuid;

use crate::db::accounts::{self, Identity};

/// The notification channel the trigger writes to.
pub const CHANNEL: &str = "corpus_identity";
/// Most identities held at once (about 500 bytes each).
const CAPACITY: u64 = 100_000;
/// Wait before listening again after the listener's connection failed.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// Identities of recent callers; cheap to clone (shared).
#[derive(Clone)]
pub struct IdentityCache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for IdentityCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityCache")
            .field("enabled", &self.inner.entries.is_some())
            .field("listening", &self.inner.listening.load(Ordering::Relaxed))
            .finish()
    }
}

struct Inner {
    entries: Option<Cache<Uuid, Arc<Identity>>>,
    /// Bumped by every forget: a load that started before a forget must not store what it read.
    generation: AtomicU64,
    /// True while the listener is subscribed; entries are used only then.
    listening: AtomicBool,
}

impl IdentityCache {
    /// A cache keeping entries for at most `ttl`; a zero `ttl` disables it.
    pub fn new(ttl: Duration) -> Self {
        let entries = (!ttl.is_zero()).then(|| Cache::builder().max_capacity(CAPACITY).time_to_live(ttl).build());
        Self { inner: Arc::new(Inner { entries, generation: AtomicU64::new(0), listening: AtomicBool::new(false) }) }
    }

    /// The identity of `id`: from memory when it is known and the listener is up, otherwise from
    /// the database (and remembered if nothing changed meanwhile). `None` when no such user.
    pub async fn get(&self, db: &PgPool, id: Uuid) -> sqlx::Result<Option<Arc<Identity>>> {
        let usable = self.inner.entries.as_ref().filter(|_| self.inner.listening.load(Ordering::Acquire));
        if let Some(found) = usable.and_then(|entries| entries.get(&id)) {
            return Ok(Some(found));
        }
        let generation = self.inner.generation.load(Ordering::Acquire);
        let Some(identity) = accounts::identity(db, id).await?.map(Arc::new) else { return Ok(None) };
        if let Some(entries) = usable
            && self.inner.generation.load(Ordering::Acquire) == generation
        {
            entries.insert(id, identity.clone());
        }
        Ok(Some(identity))
    }

    /// True while change notifications are being received (entries are served only then).
    pub fn is_listening(&self) -> bool {
        self.inner.listening.load(Ordering::Acquire)
    }

    /// Forgets one user (after a change to their account, roles or password).
    pub fn forget(&self, id: Uuid) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        if let Some(entries) = &self.inner.entries {
            entries.invalidate(&id);
        }
    }

    /// Forgets everyone (after a change to a role itself, which every holder shows).
    pub fn forget_all(&self) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        if let Some(entries) = &self.inner.entries {
            entries.invalidate_all();
        }
    }

    /// Listens for changes made anywhere until the task is aborted; the cache serves entries only
    /// while this runs and is subscribed. Without it every request reads the database.
    pub fn spawn_listener(&self, pool: PgPool) -> Option<tokio::task::JoinHandle<()>> {
        self.inner.entries.as_ref()?;
        let cache = self.clone();
        Some(tokio::spawn(async move {
            loop {
                if let Err(e) = cache.listen(&pool).await {
                    tracing::warn!(error = %e, "identity change notifications lost; reading identities from the database");
                }
                tokio::time::sleep(RECONNECT_DELAY).await;
            }
        }))
    }

    /// One subscription: returns when its connection fails.
    async fn listen(&self, pool: &PgPool) -> sqlx::Result<()> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(CHANNEL).await?;
        // Anything may have changed while nobody listened.
        self.forget_all();
        self.inner.listening.store(true, Ordering::Release);
        let result = loop {
            match listener.try_recv().await {
                Ok(Some(note)) => match Uuid::parse_str(note.payload()) {
                    Ok(id) => self.forget(id),
                    Err(_) => self.forget_all(),
                },
                // The connection was lost (try_recv would reconnect on the next call, silently
                // missing what was sent meanwhile): stop serving from memory first.
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        self.inner.listening.store(false, Ordering::Release);
        self.forget_all();
        result
    }
}
