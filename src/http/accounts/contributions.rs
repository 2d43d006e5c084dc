//! A user's contribution summaries: totals per media type and the records of each.

use axum::{
    Json,
    extract::{Path, State},
};
use serde_json::json;

use super::{
    dto::{ContributionFilterRead, ContributionItem, ContributionRead, ContributionsByMediaType},
    shared::{path_uuid, require_self_or, user_not_found},
};
use crate::{
    auth::{CurrentUser, roles::UsersRead},
    db::{
        accounts::{self},
        contributions,
    },
    domain::MediaType,
    error::{AppError, ErrorDetail, FieldError, Result, ValidationErrorBody},
    state::AppState,
};
fn non_empty(items: Vec<ContributionItem>) -> Option<Vec<ContributionItem>> {
    if items.is_empty() { None } else { Some(items) }
}

/// A user's contributions: totals per media type, the records of each, and audio/video seconds
/// (the user themself, admins and reviewers).
#[utoipa::path(
    get, path = "/api/v1/users/{user_id}/contributions", tag = "users",
    security(("HTTPBearer" = [])),
    params(("user_id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "Contributions", body = ContributionRead),
        (status = 403, description = "Not allowed", body = ErrorDetail),
        (status = 404, description = "`User with id {id} not found`", body = ErrorDetail),
    )
)]
pub async fn get_contributions(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(user_id): Path<String>,
) -> Result<Json<ContributionRead>> {
    let user_id = path_uuid("user_id", &user_id)?;
    // Rights first: unprivileged callers must not learn which user ids exist.
    require_self_or::<UsersRead>(&caller, user_id)?;
    accounts::get_user(&state.db, user_id).await?.ok_or_else(|| user_not_found(user_id))?;
    let totals = contributions::totals(&state.db, user_id).await?;
    let items: Vec<ContributionItem> =
        contributions::items(&state.db, user_id, None).await?.into_iter().map(Into::into).collect();
    let of = |m: MediaType| non_empty(items.iter().filter(|i| i.media_type == m).cloned().collect());
    Ok(Json(ContributionRead {
        user_id,
        total_contributions: totals.total(),
        contributions_by_media_type: ContributionsByMediaType {
            text: totals.count(MediaType::Text),
            audio: totals.count(MediaType::Audio),
            image: totals.count(MediaType::Image),
            video: totals.count(MediaType::Video),
            document: totals.count(MediaType::Document),
        },
        audio_contributions: of(MediaType::Audio),
        video_contributions: of(MediaType::Video),
        text_contributions: of(MediaType::Text),
        image_contributions: of(MediaType::Image),
        document_contributions: of(MediaType::Document),
        audio_duration: totals.audio_duration,
        video_duration: totals.video_duration,
    }))
}

/// A user's contributions of one media type.
#[utoipa::path(
    get, path = "/api/v1/users/{user_id}/contributions/{media_type}", tag = "users",
    security(("HTTPBearer" = [])),
    params(
        ("user_id" = Uuid, Path, description = "User id"),
        ("media_type" = MediaType, Path, description = "text, audio, video, image or document"),
    ),
    responses(
        (status = 200, description = "Contributions", body = ContributionFilterRead),
        (status = 403, description = "Not allowed", body = ErrorDetail),
        (status = 404, description = "`User with id {id} not found`", body = ErrorDetail),
        (status = 422, description = "Unknown media type", body = ValidationErrorBody),
    )
)]
pub async fn get_contributions_by_media_type(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path((user_id, media_type)): Path<(String, String)>,
) -> Result<Json<ContributionFilterRead>> {
    let user_id = path_uuid("user_id", &user_id)?;
    let Some(media_type) = MediaType::parse(&media_type) else {
        let expected = "'text', 'audio', 'video', 'image' or 'document'";
        return Err(AppError::field(
            FieldError::new("enum", &["path", "media_type"], format!("Input should be {expected}"))
                .with_input(media_type)
                .with_ctx(json!({ "expected": expected })),
        ));
    };
    require_self_or::<UsersRead>(&caller, user_id)?;
    accounts::get_user(&state.db, user_id).await?.ok_or_else(|| user_not_found(user_id))?;
    let items: Vec<ContributionItem> =
        contributions::items(&state.db, user_id, Some(media_type)).await?.into_iter().map(Into::into).collect();
    Ok(Json(ContributionFilterRead {
        user_id,
        total_contributions: items.len() as i64,
        contributions: non_empty(items),
    }))
}
