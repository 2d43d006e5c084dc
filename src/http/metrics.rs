//! `GET /metrics` (Prometheus text format) and the middleware that records every request.
//!
//! Served when `METRICS_TOKEN` is set (then only to `Authorization: Bearer <token>`) or in
//! development (open); in production without a token the route does not exist. Requests are
//! labelled by the route template they matched (`/api/v1/records/{record_id}`), never by the raw
//! path, so the number of series stays bounded; anything no route matched is `unmatched`.

use std::{
    path::Path,
    pin::Pin,
    task::{Context, Poll},
    time::Instant,
};

use axum::{
    Router,
    body::{Body, Bytes, HttpBody},
    extract::{MatchedPath, Request, State},
    http::{HeaderMap, HeaderValue, header},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use hyper::body::{Frame, SizeHint};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{
    config::StorageBackend,
    error::{AppError, Result},
    monitoring::Snapshot,
    state::AppState,
};

/// Label of requests that matched no route (404s of unknown paths).
const UNMATCHED: &str = "unmatched";

/// Routes whose request bodies count as upload bytes.
const UPLOAD_ROUTES: [&str; 2] = ["/api/v1/records/upload", "/api/v1/records/upload/chunk"];

/// The `/metrics` route.
pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

/// Prometheus metrics of this process: requests by route and status with latency histograms,
/// database pool, upload bytes, free disk space of the storage and spool directories, and the
/// time and age of the last successful backup, and jobs per state.
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    if let Some(token) = state.config.metrics_token() {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .unwrap_or_default();
        // Digests have one length whatever was sent, so the comparison time says nothing.
        let matches: bool = Sha256::digest(given.trim().as_bytes())
            .ct_eq(&Sha256::digest(token.expose_secret().trim().as_bytes()))
            .into();
        if !matches {
            return Err(AppError::Unauthorized("Could not validate credentials".into()));
        }
    }
    let storage_dir =
        (state.storage.backend == StorageBackend::Local).then(|| state.config.storage.storage_dir.clone());
    let spool_dir = crate::storage::spool::spool_dir(state.config.uploads.upload_tmp_dir.as_deref());
    // statvfs can block on a network file system: off the async threads.
    let (storage_free_bytes, spool_free_bytes) =
        tokio::task::spawn_blocking(move || (storage_dir.and_then(|d| free_space(&d)), free_space(&spool_dir)))
            .await
            .map_err(|e| AppError::Internal(e.into()))?;
    // The backup log is shared by every replica; a failing read only leaves the gauges out.
    let last_backup = async {
        let mut conn = state.db.acquire().await?;
        crate::db::backups::last_success(&mut conn).await
    }
    .await
    .inspect_err(|e| tracing::warn!(error = %e, "could not read the backup log for /metrics"))
    .ok()
    .flatten()
    .map(|last| last.finished_at);
    let jobs_by_state = crate::db::jobs::count_by_state(&state.db)
        .await
        .inspect_err(|e| tracing::warn!(error = %e, "could not count jobs for /metrics"))
        .unwrap_or_default();
    let snapshot = Snapshot {
        pool_connections: state.db.size(),
        pool_idle: state.db.num_idle(),
        pool_max: state.config.database.db_pool_size,
        storage_free_bytes,
        spool_free_bytes,
        last_backup,
        jobs_by_state,
    };
    let text = state.metrics.render(&snapshot);
    let mut response = text.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    Ok(response)
}

fn free_space(dir: &Path) -> Option<u64> {
    crate::storage::free_space(dir)
        .inspect_err(|e| tracing::debug!(error = %e, dir = %dir.display(), "free disk space unknown"))
        .ok()
}

/// Middleware: counts each request and its latency under its matched route, and the body bytes
/// the upload routes receive (as they arrive, so an upload cut short still counts what came).
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let method = request.method().clone();
    let request = match route.as_deref() {
        Some(route) if UPLOAD_ROUTES.contains(&route) => {
            let counter = state.metrics.upload_bytes().clone();
            request.map(|body| Body::new(CountingBody { inner: body, counter }))
        }
        _ => request,
    };
    let response = next.run(request).await;
    state.metrics.record_request(
        method.as_str(),
        route.as_deref().unwrap_or(UNMATCHED),
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// A request body that adds the size of each data frame to a counter as it is read.
struct CountingBody {
    inner: Body,
    counter: metrics::Counter,
}

impl HttpBody for CountingBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            this.counter.increment(data.len() as u64);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
