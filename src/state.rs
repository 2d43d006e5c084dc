//! Application state shared by every handler: cheap to clone, built once from the configuration.

use std::sync::Arc;

use sqlx::PgPool;

use crate::{auth::token::TokenKeys, config::Config, storage::Storage};

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
}

impl AppState {
    /// Builds the state from a configuration and an open pool.
    pub fn new(config: Config, db: PgPool) -> anyhow::Result<Self> {
        let storage = Storage::from_config(&config)?;
        let tokens = TokenKeys::new(&config.secret(), config.access_token_expire_minutes);
        Ok(Self { config: Arc::new(config), db, storage, tokens })
    }
}
