//! Where the located records are, roughly: the box PostgreSQL's statistics give for
//! `record.location`, read at most once a minute. The box search uses it to choose its statement
//! (see [`crate::db::records::spatial::in_bbox`]); a stale box can only make a search slower, never
//! change its answer, so it needs no notifications.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use sqlx::PgPool;

use crate::db::records::spatial::{self, Bbox};

/// How long one reading is used.
const MAX_AGE: Duration = Duration::from_secs(60);

/// One reading: when, and what it said.
type Reading = (Instant, Option<Bbox>);

/// The estimated extent of the located records; cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct RecordExtent {
    last: Arc<Mutex<Option<Reading>>>,
}

impl RecordExtent {
    /// The extent, from memory when read less than a minute ago; `None` before PostgreSQL has
    /// statistics for the table.
    pub async fn get(&self, db: &PgPool) -> sqlx::Result<Option<Bbox>> {
        if let Some((read_at, extent)) = *self.last.lock().unwrap_or_else(PoisonError::into_inner)
            && read_at.elapsed() < MAX_AGE
        {
            return Ok(extent);
        }
        let extent = spatial::estimated_extent(db).await?;
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), extent));
        Ok(extent)
    }
}
