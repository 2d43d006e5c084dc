//! Lists records, newest first: filters, `skip`/`limit` and a keyset cursor.

use std::sync::Arc;

use axum::{
    extract::{RawQuery, State},
    http::{HeaderMap, HeaderName, HeaderValue},
    response::Response,
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::shared::{IntoRead, RecordRead, page_json, visibility};
use crate::{
    auth::{Auth, roles::AnyRole},
    cache::record_pages::{self, PageKey},
    db::records::{self, Filter, Page},
    domain::{MediaType, RecordStatus},
    error::Result,
    http::{ValidQuery, Validate, Validator, limits::PAGE_MAX},
    state::AppState,
};

/// Response header carrying the cursor of the next page (absent on the last page).
pub static NEXT_CURSOR: HeaderName = HeaderName::from_static("x-next-cursor");

/// Query of `GET /records/`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this category.
    pub category_id: Option<Uuid>,
    /// Only this owner (contributors always see only their own records).
    pub user_id: Option<Uuid>,
    /// Only this media type.
    pub media_type: Option<MediaType>,
    /// Only this status.
    #[param(value_type = Option<String>)]
    pub status: Option<RecordStatus>,
    /// Only reviewed (true) or unreviewed (false) records.
    pub reviewed: Option<bool>,
    /// Created at or after this instant (RFC 3339; without an offset, UTC).
    #[serde(default, deserialize_with = "crate::domain::time::deserialize_opt")]
    pub created_after: Option<DateTime<Utc>>,
    /// Created before this instant (RFC 3339; without an offset, UTC).
    #[serde(default, deserialize_with = "crate::domain::time::deserialize_opt")]
    pub created_before: Option<DateTime<Utc>>,
    /// Only records with exactly these bytes (SHA-256, hex): finds duplicates.
    #[param(pattern = r"^[0-9a-fA-F]{64}$")]
    pub content_sha256: Option<String>,
    /// Records to skip (ignored when `cursor` is given).
    #[serde(default)]
    #[param(minimum = 0, default = 0)]
    pub skip: i64,
    /// Page size.
    #[serde(default = "default_limit")]
    #[param(minimum = 1, maximum = 1000, default = 100)]
    pub limit: i64,
    /// Keyset cursor from the previous page's `X-Next-Cursor` header: stays fast at any depth.
    pub cursor: Option<String>,
}

fn default_limit() -> i64 {
    100
}

impl Validate for ListQuery {
    fn validate(&self, v: &mut Validator) {
        v.range_i64("skip", self.skip, 0, i64::MAX);
        v.range_i64("limit", self.limit, 1, PAGE_MAX);
        if let Some(hash) = &self.content_sha256
            && !(hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            v.error(
                "value_error",
                "content_sha256",
                "Expected 64 hexadecimal characters",
                Some(hash.as_str().into()),
                None,
            );
        }
        if let Some(cursor) = &self.cursor
            && decode_cursor(cursor).is_none()
        {
            v.error("value_error", "cursor", "Invalid cursor", Some(cursor.as_str().into()), None);
        }
    }
}

/// A cursor is the sort key of the last record of a page: `<created_at µs>_<uid>`.
fn encode_cursor(created_at: DateTime<Utc>, uid: Uuid) -> String {
    format!("{}_{uid}", created_at.timestamp_micros())
}

fn decode_cursor(cursor: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let (micros, uid) = cursor.split_once('_')?;
    Some((DateTime::from_timestamp_micros(micros.parse().ok()?)?, Uuid::parse_str(uid).ok()?))
}

/// Lists records, newest first, with filters and `skip`/`limit` or a keyset `cursor`.
///
/// The body is a plain JSON list, as the original's; when more records may follow, the
/// `X-Next-Cursor` header holds the `cursor` of the next page. A page asked for again with the
/// same query by a caller with the same visibility is answered from memory until a record
/// changes ([`crate::cache::record_pages`]).
#[utoipa::path(get, path = "/api/v1/records/", tag = "records", security(("HTTPBearer" = [])), params(ListQuery),
    responses((status = 200, body = [RecordRead], headers(("x-next-cursor" = String, description = "Cursor of the next page"))),
        (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn list_records(
    State(state): State<AppState>,
    auth: Auth<AnyRole>,
    RawQuery(raw_query): RawQuery,
    headers: HeaderMap,
    ValidQuery(q): ValidQuery<ListQuery>,
) -> Result<Response> {
    let visibility = visibility(&auth);
    let key = PageKey::new(visibility, raw_query);
    if let Some(page) = state.record_pages.get(&key) {
        return Ok(page.response(&NEXT_CURSOR, &headers));
    }
    let ticket = state.record_pages.ticket();
    let filter = Filter {
        category_id: q.category_id,
        user_id: q.user_id,
        media_type: q.media_type,
        status: q.status,
        reviewed: q.reviewed,
        created_after: q.created_after,
        created_before: q.created_before,
        content_sha256: q.content_sha256.map(|hash| hash.to_ascii_lowercase()),
        ..Filter::visible(visibility)
    };
    let page = match q.cursor.as_deref().and_then(decode_cursor) {
        Some((created_at, uid)) => Page::After { created_at, uid, limit: q.limit },
        None => Page::Offset { skip: q.skip, limit: q.limit },
    };
    let rows = records::list(&state.db, &filter, page).await?;
    let next_cursor = (rows.len() as i64 == q.limit)
        .then(|| rows.last().and_then(|r| HeaderValue::from_str(&encode_cursor(r.created_at, r.uid)).ok()))
        .flatten();
    let body: Vec<RecordRead> = rows.into_iter().map(|r| r.into_read(&state.config)).collect();
    let body = page_json(&body)?;
    let page = Arc::new(record_pages::Page::new(body.into(), next_cursor));
    state.record_pages.store(ticket, key, page.clone());
    Ok(page.response(&NEXT_CURSOR, &headers))
}
