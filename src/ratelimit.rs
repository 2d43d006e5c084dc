//! Fixed-window rate limits, shared by every replica through Redis when `REDIS_URL` is set, kept
//! in this process otherwise.
//!
//! Every wait on Redis is bounded by `REDIS_TIMEOUT_MS`: with Redis down a limited endpoint fails
//! (the callers answer 503) within that bound, and the next request after Redis is back reconnects.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::Context;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

/// Counts hits per key in fixed windows.
#[derive(Clone)]
pub struct RateLimiter {
    backend: Arc<Backend>,
}

enum Backend {
    Memory(Mutex<HashMap<String, (u32, Instant)>>),
    Redis { client: redis::Client, prefix: String, manager: OnceCell<ConnectionManager>, timeout: Duration },
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match *self.backend {
            Backend::Memory(_) => "memory",
            Backend::Redis { .. } => "redis",
        };
        f.debug_struct("RateLimiter").field("backend", &kind).finish()
    }
}

impl RateLimiter {
    /// An in-process limiter.
    pub fn memory() -> Self {
        Self { backend: Arc::new(Backend::Memory(Mutex::new(HashMap::new()))) }
    }

    /// A limiter in Redis at `url`, every key under `prefix`, each wait on Redis bounded by
    /// `timeout`. Connects on first use, so the service starts even while Redis is still coming up.
    pub fn redis(url: &str, prefix: &str, timeout: Duration) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).context("REDIS_URL is not a valid Redis URL")?;
        Ok(Self {
            backend: Arc::new(Backend::Redis { client, prefix: prefix.to_owned(), manager: OnceCell::new(), timeout }),
        })
    }

    /// Records one hit on `key`; returns `false` when that hit is over `limit` in the current
    /// window of `window` (the hit is still counted).
    pub async fn hit(&self, key: &str, limit: u32, window: Duration) -> anyhow::Result<bool> {
        match &*self.backend {
            Backend::Memory(map) => {
                let now = Instant::now();
                let mut map = map.lock().expect("rate limiter lock");
                // Dropping expired windows here keeps the map bounded by the keys of one window.
                if map.len() > 10_000 {
                    map.retain(|_, (_, end)| *end > now);
                }
                let entry = map.entry(key.to_owned()).or_insert((0, now + window));
                if entry.1 <= now {
                    *entry = (0, now + window);
                }
                entry.0 += 1;
                Ok(entry.0 <= limit)
            }
            Backend::Redis { prefix, .. } => {
                let full = format!("{prefix}{key}");
                let secs = window.as_secs().max(1);
                let pipe = redis::pipe()
                    .atomic()
                    .incr(&full, 1u64)
                    .cmd("EXPIRE")
                    .arg(&full)
                    .arg(secs)
                    .arg("NX")
                    .ignore()
                    .clone();
                let (count,): (u64,) = self
                    .query(|mut conn| {
                        let pipe = pipe.clone();
                        async move { pipe.query_async(&mut conn).await }
                    })
                    .await
                    .context("rate limit counter in Redis")?;
                Ok(count <= u64::from(limit))
            }
        }
    }

    /// Takes back one hit on `key` (used when the limited action did not happen after all).
    pub async fn undo(&self, key: &str) -> anyhow::Result<()> {
        match &*self.backend {
            Backend::Memory(map) => {
                if let Some(entry) = map.lock().expect("rate limiter lock").get_mut(key) {
                    entry.0 = entry.0.saturating_sub(1);
                }
                Ok(())
            }
            Backend::Redis { prefix, .. } => {
                let cmd = redis::cmd("DECR").arg(format!("{prefix}{key}")).clone();
                let _: i64 = self
                    .query(|mut conn| {
                        let cmd = cmd.clone();
                        async move { cmd.query_async(&mut conn).await }
                    })
                    .await
                    .context("rate limit counter in Redis")?;
                Ok(())
            }
        }
    }

    /// True when the limits live in Redis (shared by the replicas).
    pub fn is_shared(&self) -> bool {
        matches!(*self.backend, Backend::Redis { .. })
    }

    /// Checks that Redis answers (`PING`); always fine for the in-process limiter.
    pub async fn check(&self) -> anyhow::Result<()> {
        if !self.is_shared() {
            return Ok(());
        }
        let _: String = self
            .query(|mut conn| async move { redis::cmd("PING").query_async(&mut conn).await })
            .await
            .context("PING to Redis")?;
        Ok(())
    }

    /// Runs `op` on the shared connection, the whole (connecting included) bounded by the
    /// configured timeout. A connection-level failure is tried once more: the manager has
    /// started a fresh connection by then, which is what makes the first request after Redis
    /// returns succeed.
    async fn query<T, F, Fut>(&self, op: F) -> anyhow::Result<T>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let Backend::Redis { timeout, .. } = &*self.backend else { unreachable!("redis backend") };
        let attempt = async {
            let conn = self.connection().await?;
            match op(conn.clone()).await {
                Err(e) if is_connection_error(&e) => Ok(op(conn).await?),
                other => Ok(other?),
            }
        };
        tokio::time::timeout(*timeout, attempt)
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("Redis did not answer within {} ms", timeout.as_millis())))
    }

    async fn connection(&self) -> anyhow::Result<ConnectionManager> {
        let Backend::Redis { client, manager, timeout, .. } = &*self.backend else { unreachable!("redis backend") };
        let manager = manager
            .get_or_try_init(|| async {
                // No retries inside the manager: its backoff between reconnection attempts
                // (1 s, then 60 s, each with up to as much jitter) held one request ~2 minutes,
                // and every later request waited on that same reconnection after Redis was
                // back. Instead each failed use starts one fresh attempt, bounded by the timeouts.
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(*timeout)
                    .set_response_timeout(*timeout)
                    .set_number_of_retries(0);
                ConnectionManager::new_with_config(client.clone(), config).await.context("connecting to Redis")
            })
            .await?;
        Ok(manager.clone())
    }
}

/// True for failures of the connection itself (worth one try on a fresh connection), not of
/// the command.
fn is_connection_error(err: &redis::RedisError) -> bool {
    // A timed-out command may have run: trying it again could count one hit twice.
    !err.is_timeout()
        && (err.is_io_error()
            || err.is_connection_dropped()
            || err.is_connection_refusal()
            || err.is_unrecoverable_error())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_limiter_counts_per_window_and_undoes() {
        let limiter = RateLimiter::memory();
        let w = Duration::from_secs(60);
        assert!(limiter.hit("a", 2, w).await.unwrap());
        assert!(limiter.hit("a", 2, w).await.unwrap());
        assert!(!limiter.hit("a", 2, w).await.unwrap());
        assert!(limiter.hit("b", 2, w).await.unwrap());
        limiter.undo("a").await.unwrap();
        limiter.undo("a").await.unwrap();
        assert!(limiter.hit("a", 2, w).await.unwrap());
    }
}
