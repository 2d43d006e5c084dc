//! Fixed-window rate limits, shared by every replica through Redis when `REDIS_URL` is set, kept
//! in this process otherwise.
//!
//! Every wait on Redis is bounded by `REDIS_TIMEOUT_MS`: with Redis down a limited endpoint fails
//! (the callers answer 503) within that bound, and the next request after Redis is back reconnects.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap},
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
    Memory(Mutex<MemoryTable>),
    Redis { client: redis::Client, prefix: String, manager: OnceCell<ConnectionManager>, timeout: Duration },
}

/// The in-process counters: `(hits, window end)` per key, and the window ends in a min-heap so
/// expired keys are dropped in O(log n) each, never by scanning the table.
#[derive(Default)]
struct MemoryTable {
    counts: HashMap<String, (u32, Instant)>,
    // Exactly one entry per key of `counts`, with that key's window end: a key is only ever
    // (re)inserted after its previous window was popped here.
    expiries: BinaryHeap<Reverse<(Instant, String)>>,
}

impl MemoryTable {
    /// Forgets every key whose window ended by `now`.
    fn expire(&mut self, now: Instant) {
        while let Some(Reverse((end, _))) = self.expiries.peek() {
            if *end > now {
                break;
            }
            let Some(Reverse((_, key))) = self.expiries.pop() else { break };
            self.counts.remove(&key);
        }
    }

    fn hit(&mut self, key: &str, limit: u32, window: Duration, now: Instant) -> bool {
        self.expire(now);
        let entry = self.counts.entry(key.to_owned()).or_insert_with(|| {
            let end = now + window;
            self.expiries.push(Reverse((end, key.to_owned())));
            (0, end)
        });
        entry.0 = entry.0.saturating_add(1);
        entry.0 <= limit
    }
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
        Self { backend: Arc::new(Backend::Memory(Mutex::new(MemoryTable::default()))) }
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
            Backend::Memory(table) => {
                Ok(table.lock().expect("rate limiter lock").hit(key, limit, window, Instant::now()))
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
            Backend::Memory(table) => {
                if let Some(entry) = table.lock().expect("rate limiter lock").counts.get_mut(key) {
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

    #[test]
    fn memory_table_forgets_every_key_whose_window_ended_whatever_its_size() {
        let mut table = MemoryTable::default();
        let t0 = Instant::now();
        let minute = Duration::from_secs(60);
        // Fewer keys than the old scan threshold (10,000): they used to stay forever.
        for i in 0..100 {
            assert!(table.hit(&format!("short:{i}"), 1, minute, t0));
        }
        assert!(table.hit("long", 1, Duration::from_secs(3600), t0));
        assert!(!table.hit("short:0", 1, minute, t0 + Duration::from_secs(59)), "still in its window");

        assert!(table.hit("short:0", 1, minute, t0 + minute), "a new window starts from zero");
        assert_eq!(table.counts.len(), 2, "only the live windows are kept");
        assert_eq!(table.expiries.len(), table.counts.len(), "one expiry per key");
        assert!(!table.hit("long", 1, Duration::from_secs(3600), t0 + minute), "the hour window still counts");

        table.expire(t0 + Duration::from_secs(3600));
        assert!(table.counts.is_empty() && table.expiries.is_empty());
    }
}
