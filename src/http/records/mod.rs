//! Records (`/api/v1/records`): CRUD with ownership, spatial search in metres, review, direct
//! and resumable uploads to object storage, and ranged file streaming.
//!
//! Contributors see and change only their own records; reviewers and admins see all of them.
//! This module only wires the handlers up; what they share is in [`shared`].

pub mod create;
pub mod crud;
pub mod file;
pub mod list;
pub mod record_url;
pub mod review;
pub mod shared;
pub mod spatial;
pub mod update;
pub mod upload;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    routing::{get, post},
};

pub use self::shared::{Location, RecordRead};
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/records", get(list::list_records).post(create::create_record))
        .route("/records/search/nearby", get(spatial::nearby))
        .route("/records/search/bbox", get(spatial::bbox))
        .route("/records/search/distance", get(spatial::distance))
        .route("/records/review/queue", get(review::queue).post(review::queue))
        // Upload bodies are streamed and size-checked as they arrive, not buffered under a limit.
        .route("/records/upload", post(upload::upload).layer(DefaultBodyLimit::disable()))
        .route("/records/upload/chunk", post(upload::upload_chunk).layer(DefaultBodyLimit::disable()))
        .route("/records/upload/{upload_uuid}/status", get(upload::upload_status))
        .route(
            "/records/{record_id}",
            get(crud::get_record).put(update::update_record).patch(update::patch_record).delete(crud::delete_record),
        )
        .route("/records/{record_id}/review", post(review::review_record))
        .route("/records/{record_id}/file", get(file::download))
        .route("/records/{record_id}/record-url", get(record_url::record_url))
        .route("/records/{record_id}/signed-file", get(record_url::signed_file))
}

/// OpenAPI paths of this module.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list::list_records, crud::get_record, create::create_record, update::update_record, update::patch_record,
        crud::delete_record,
        spatial::nearby, spatial::bbox, spatial::distance,
        review::review_record, review::queue,
        upload::upload, upload::upload_chunk, upload::upload_status,
        file::download, record_url::record_url, record_url::signed_file,
    ),
    components(schemas(
        shared::RecordRead, shared::Location, create::RecordCreate, update::RecordUpdate, spatial::DistanceResult,
        review::ReviewRequest, upload::ChunkResponse, upload::UploadStatus, record_url::RecordUrlResponse,
    )),
    tags((name = "records", description = "Corpus records, uploads, spatial search and review"))
)]
pub struct RecordsDoc;
