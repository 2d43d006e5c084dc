//! One PostgreSQL connection per process listening to every cache's change channel.

use std::{sync::Arc, time::Duration};

use sqlx::{PgPool, postgres::PgListener};

/// Wait before listening again after the listener's connection failed.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// A cache kept exact by the notifications of one channel.
pub trait Subscriber: Send + Sync + 'static {
    /// The channel its trigger writes to.
    fn channel(&self) -> &'static str;
    /// One notification arrived on the channel.
    fn notified(&self, payload: &str);
    /// The subscription started (`true`) or its connection was lost (`false`).
    fn set_listening(&self, listening: bool);
}

/// Listens for changes made anywhere until the task is aborted, reconnecting after a failure.
/// Without it the caches serve nothing and every request reads the database.
pub fn spawn(pool: PgPool, subscribers: Vec<Arc<dyn Subscriber>>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = listen(&pool, &subscribers).await {
                tracing::warn!(error = %e, "change notifications lost; reading from the database until they are back");
            }
            tokio::time::sleep(RECONNECT_DELAY).await;
        }
    })
}

/// One subscription: returns when its connection fails.
async fn listen(pool: &PgPool, subscribers: &[Arc<dyn Subscriber>]) -> sqlx::Result<()> {
    let mut listener = PgListener::connect_with(pool).await?;
    let channels: Vec<&str> = subscribers.iter().map(|s| s.channel()).collect();
    listener.listen_all(channels).await?;
    for subscriber in subscribers {
        subscriber.set_listening(true);
    }
    let result = loop {
        match listener.try_recv().await {
            Ok(Some(note)) => {
                for subscriber in subscribers.iter().filter(|s| s.channel() == note.channel()) {
                    subscriber.notified(note.payload());
                }
            }
            // The connection was lost (try_recv would reconnect on the next call, silently
            // missing what was sent meanwhile): stop serving from memory first.
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    for subscriber in subscribers {
        subscriber.set_listening(false);
    }
    result
}
