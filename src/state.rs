//! Application state shared by every handler: cheap to clone, built once from the configuration.

use std::{sync::Arc, time::Duration};

use sqlx::PgPool;

use crate::{
    auth::{extract::AuthState, identities::IdentityCache, links::LinkKey, sms::SmsSender, token::TokenKeys},
    cache::{
        categories::{self, CategoryLists},
        listener,
        record_extent::RecordExtent,
        record_pages::RecordPages,
    },
    config::Config,
    media::{DurationProbe, ProbeLimits},
    monitoring::Metrics,
    ratelimit::RateLimiter,
    storage::Storage,
};

/// Handles every request needs.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// The database pool.
    pub db: PgPool,
    /// Object storage.
    pub storage: Storage,
    /// Access-token signing keys.
    pub tokens: TokenKeys,
    /// Signs expiring file links (local storage's `record-url`).
    pub links: LinkKey,
    /// Sends one-time codes by SMS.
    pub sms: SmsSender,
    /// Rate limits (OTP sends per phone and per client IP); in Redis when `REDIS_URL` is set.
    pub limiter: RateLimiter,
    /// Times uploads (third-party demuxers only in capped child processes).
    pub media: DurationProbe,
    /// Request counts, latencies and upload bytes, served by `GET /metrics`.
    pub metrics: Metrics,
    /// Identities of recent callers, kept exact by change notifications.
    pub identities: IdentityCache,
    /// Pages of the records list recently answered, kept exact by change notifications.
    pub record_pages: RecordPages,
    /// The category lists recently answered, kept exact by change notifications.
    pub categories: CategoryLists,
    /// Where the located records are, roughly (steers the box search's statement).
    pub record_extent: RecordExtent,
}

impl AppState {
    /// Builds the state from a configuration and an open pool.
    pub fn new(config: Config, db: PgPool) -> anyhow::Result<Self> {
        let storage = Storage::from_config(&config)?;
        if let Some(dir) = &config.uploads.upload_tmp_dir {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("creating UPLOAD_TMP_DIR {}: {e}", dir.display()))?;
        }
        let tokens = TokenKeys::new(&config.secret(), config.security.access_token_expire_minutes);
        let links = LinkKey::new(&config.secret());
        let sms = SmsSender::from_config(&config)?;
        let limiter = match config.redis_url() {
            Some(url) => RateLimiter::redis(url, &config.limits.redis_key_prefix, config.redis_timeout())?,
            None => RateLimiter::memory(),
        };
        let media = DurationProbe::new(ProbeLimits::from_config(&config)?);
        let identities = IdentityCache::new(Duration::from_secs(config.security.identity_cache_seconds));
        let record_pages = RecordPages::new(Duration::from_secs(config.http.record_list_cache_seconds));
        let categories = categories::lists(Duration::from_secs(config.http.category_cache_seconds));
        Ok(Self {
            config: Arc::new(config),
            db,
            storage,
            tokens,
            links,
            sms,
            limiter,
            media,
            metrics: Metrics::new(),
            identities,
            record_pages,
            categories,
            record_extent: RecordExtent::default(),
        })
    }

    /// Starts listening for changes made anywhere (the caches serve entries only while this
    /// runs); `None` when every cache is disabled. Abort the task to stop.
    pub fn spawn_change_listener(&self) -> Option<tokio::task::JoinHandle<()>> {
        let mut subscribers: Vec<Arc<dyn listener::Subscriber>> = Vec::new();
        if self.identities.is_enabled() {
            subscribers.push(Arc::new(self.identities.clone()));
        }
        if self.record_pages.is_enabled() {
            subscribers.push(self.record_pages.subscriber());
        }
        if self.categories.is_enabled() {
            subscribers.push(self.categories.emptied_by(categories::CHANNEL));
        }
        (!subscribers.is_empty()).then(|| listener::spawn(self.db.clone(), subscribers))
    }
}

impl AuthState for AppState {
    fn db(&self) -> &PgPool {
        &self.db
    }

    fn tokens(&self) -> &TokenKeys {
        &self.tokens
    }

    fn identities(&self) -> &IdentityCache {
        &self.identities
    }
}
