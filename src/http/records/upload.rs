//! Direct and resumable (chunked) uploads.

use axum::{Json, extract::State};
use serde::Serialize;

use super::RecordRead;
use crate::{
    auth::{Auth, roles::AnyRole},
    error::{AppError, Result},
    state::AppState,
};

/// Answer of a chunk upload.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChunkResponse {
    /// What happened.
    pub message: String,
}

/// State of a resumable upload.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UploadStatus {
    /// Chunk indexes received.
    pub received_chunks: Vec<i32>,
}

/// Direct upload, or finalisation of a chunked upload.
#[utoipa::path(post, path = "/api/v1/records/upload", tag = "records", responses((status = 201, body = RecordRead)))]
pub async fn upload(State(_state): State<AppState>, _auth: Auth<AnyRole>) -> Result<Json<RecordRead>> {
    Err(AppError::ServiceUnavailable("not yet".into()))
}

/// One chunk of a resumable upload.
#[utoipa::path(post, path = "/api/v1/records/upload/chunk", tag = "records", responses((status = 200, body = ChunkResponse)))]
pub async fn upload_chunk(State(_state): State<AppState>, _auth: Auth<AnyRole>) -> Result<Json<ChunkResponse>> {
    Err(AppError::ServiceUnavailable("not yet".into()))
}

/// Which chunks of an upload the server has.
#[utoipa::path(get, path = "/api/v1/records/upload/{upload_uuid}/status", tag = "records", responses((status = 200, body = UploadStatus)))]
pub async fn upload_status(State(_state): State<AppState>, _auth: Auth<AnyRole>) -> Result<Json<UploadStatus>> {
    Err(AppError::ServiceUnavailable("not yet".into()))
}
