//! Finalising a resumable upload: its chunks assembled into one spooled file, checked and stored
//! as an object, and recorded.
//!
//! The whole finalise holds the upload's lock (`FinaliseLock`, see [`super::sessions`]). The
//! database side (record, session marked done, chunk rows gone) is one transaction; the object
//! key is noted on the session before the object is stored, so an object that a dead finalise
//! left behind is removed by the next finalise or by the sweep.

use futures::StreamExt;
use sqlx::{PgConnection, Postgres, pool::PoolConnection};
use uuid::Uuid;

use super::{
    form::decode_file_name,
    sessions::{SessionRow, busy, chunk_object_key, load_session, not_found},
    store::{UploadFields, object_key, store_upload},
};
use crate::{
    auth::CurrentUser,
    db::{records::RecordRow, uploads},
    error::{AppError, Result},
    http::records::{create::insert_record, shared::reload},
    state::AppState,
    storage::{
        objects::{chunk_key, chunk_prefix},
        spool::{Spooled, Spooler},
    },
};

/// An upload's exclusive advisory lock, held on its own pooled connection. Released by
/// [`FinaliseLock::release`]; when dropped instead (an error path, a dropped request), the
/// connection is closed rather than pooled, which releases the lock all the same.
struct FinaliseLock {
    conn: Option<PoolConnection<Postgres>>,
    upload_uuid: Uuid,
}

impl FinaliseLock {
    /// The lock, or `None` when a live finalise holds it.
    async fn try_take(state: &AppState, upload_uuid: Uuid) -> Result<Option<Self>> {
        let mut conn = state.db.acquire().await?;
        let taken = uploads::try_lock_upload(&mut *conn, upload_uuid).await?;
        Ok(taken.then_some(Self { conn: Some(conn), upload_uuid }))
    }

    fn conn(&mut self) -> &mut PgConnection {
        self.conn.as_mut().expect("held until released")
    }

    async fn release(mut self) {
        if let Some(mut conn) = self.conn.take() {
            let unlocked = uploads::unlock_upload(&mut *conn, self.upload_uuid).await;
            if unlocked.is_err() {
                drop(conn.detach());
            }
        }
    }
}

impl Drop for FinaliseLock {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Closing the connection ends the session, and with it the lock.
            drop(conn.detach());
        }
    }
}

/// Turns a complete resumable upload into a record; a finalise re-sent after success answers
/// with the same record.
pub(super) async fn finalise(
    state: &AppState,
    user: &CurrentUser,
    fields: &UploadFields,
    upload_uuid: Uuid,
) -> Result<RecordRow> {
    let Some(mut lock) = FinaliseLock::try_take(state, upload_uuid).await? else {
        // Someone else's upload is still a 404, not a 409.
        return match load_session(&mut *state.db.acquire().await?, user, upload_uuid).await? {
            Some(_) => Err(busy()),
            None => Err(not_found()),
        };
    };
    // Cancelled (the request dropped) the lock's connection is closed instead, see FinaliseLock.
    let result = finalise_locked(state, lock.conn(), user, fields, upload_uuid).await;
    lock.release().await;
    match result? {
        Finalised::Created(row) => {
            if let Err(e) = state.storage.delete_prefix(&chunk_prefix(upload_uuid)).await {
                tracing::warn!(error = %format!("{e:#}"), "could not delete the chunks of a finished upload");
            }
            Ok(*row)
        }
        // A re-sent finalise (the answer was lost on a dropped connection) gets the same record.
        Finalised::Earlier(uid) => reload(state, uid).await,
    }
}

/// What a finalise found or made.
enum Finalised {
    /// The record it wrote.
    Created(Box<RecordRow>),
    /// The record an earlier finalise wrote.
    Earlier(Uuid),
}

async fn finalise_locked(
    state: &AppState,
    db: &mut PgConnection,
    user: &CurrentUser,
    fields: &UploadFields,
    upload_uuid: Uuid,
) -> Result<Finalised> {
    let session = load_session(&mut *db, user, upload_uuid).await?.ok_or_else(not_found)?;
    if let Some(uid) = session.record_uid {
        return Ok(Finalised::Earlier(uid));
    }
    if let Some(total) = fields.form.total_chunks
        && total != i64::from(session.total_chunks)
    {
        return Err(AppError::Conflict(format!(
            "total_chunks {total} does not match the upload's {} chunks",
            session.total_chunks
        )));
    }
    // The object of a finalise that died after storing it, before its commit.
    if let Some(key) = &session.finalise_object_key {
        state.storage.delete(key).await.map_err(|e| {
            tracing::error!(error = %format!("{e:#}"), "removing the object of a finalise that died failed");
            AppError::ServiceUnavailable("File upload failed: storage is unavailable, please retry".into())
        })?;
    }
    let spooled = assemble(state, &mut *db, upload_uuid, &session).await?;
    let name = fields.form.filename.clone().unwrap_or_else(|| session.filename.clone());
    let new =
        store_upload(state, fields, &spooled, Some(decode_file_name(&name)), Some((&mut *db, upload_uuid))).await?;
    // One transaction: the record, the session marked done, its chunk rows gone.
    let mut tx = sqlx::Connection::begin(&mut *db).await?;
    let written = async {
        let row = insert_record(&mut tx, &new).await?;
        uploads::mark_finalised(&mut tx, upload_uuid, row.uid).await?;
        Ok::<_, AppError>(row)
    }
    .await;
    let (row, committed) = match written {
        Ok(row) => (row, tx.commit().await),
        Err(e) => {
            drop(tx);
            state.storage.delete_quietly(object_key(&new)).await;
            return Err(e);
        }
    };
    match committed {
        Ok(()) => Ok(Finalised::Created(Box::new(row))),
        Err(e) => {
            // Refused by the server (a deferred constraint, a serialisation failure): nothing was
            // recorded, the object goes. Any other failure (the connection broke) leaves the
            // outcome unknown: the object stays, noted on the session, for the next finalise or
            // the sweep to remove if the commit did not happen.
            if matches!(e, sqlx::Error::Database(_)) {
                state.storage.delete_quietly(object_key(&new)).await;
            }
            Err(e.into())
        }
    }
}

/// Copies the chunks, in order, into one spool file.
async fn assemble(state: &AppState, db: &mut PgConnection, upload_uuid: Uuid, session: &SessionRow) -> Result<Spooled> {
    let received = uploads::chunks(&mut *db, upload_uuid).await?;
    let missing: Vec<i32> =
        (0..session.total_chunks).filter(|i| received.binary_search_by_key(i, |c| c.chunk_index).is_err()).collect();
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(50).map(i32::to_string).collect();
        return Err(AppError::BadRequest(format!("Upload incomplete: missing chunks [{}]", shown.join(", "))));
    }
    let mut spooler = Spooler::new(state.config.uploads.max_file_size, state.config.uploads.upload_tmp_dir.as_deref())?;
    for chunk in received.iter().filter(|c| c.chunk_index < session.total_chunks) {
        let (index, sha256) = (&chunk.chunk_index, &chunk.sha256);
        let read_error = |e: object_store::Error| {
            AppError::Internal(anyhow::Error::new(e).context(format!("reading chunk {index}")))
        };
        let object = match state.storage.get(&chunk_object_key(upload_uuid, *index, sha256), None).await {
            Ok(object) => object,
            // Chunks stored before content-named objects.
            Err(object_store::Error::NotFound { .. }) => {
                state.storage.get(&chunk_key(upload_uuid, *index), None).await.map_err(read_error)?
            }
            Err(e) => return Err(read_error(e)),
        };
        let mut stream = object.into_stream();
        while let Some(bytes) = stream.next().await {
            spooler.write(&bytes.map_err(read_error)?).await?;
        }
    }
    spooler.finish().await
}
