//! `GET /records/{id}/file`: streams a record's object to its owner, reviewers and admins, with
//! single-range HTTP Range support (206) so audio and video can be seeked.

use axum::{
    Json,
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures::TryStreamExt;
use object_store::GetRange;

use super::{load_visible, parse_record_id};
use crate::{
    auth::{Auth, roles::AnyRole},
    error::{AppError, Result},
    state::AppState,
};

/// A parsed `Range` header, against an object of `size` bytes.
#[derive(Debug, PartialEq)]
pub enum RangeRequest {
    /// No (usable) range: the whole object.
    Full,
    /// Bytes `start..end` (end exclusive).
    Partial(u64, u64),
    /// Cannot be satisfied: 416.
    Unsatisfiable,
}

/// Parses `bytes=a-b`, `bytes=a-` and `bytes=-n`. Multiple ranges and other units are answered
/// with the whole object, which RFC 9110 allows.
pub fn parse_range(header: Option<&str>, size: u64) -> RangeRequest {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else { return RangeRequest::Full };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((start, end)) = spec.trim().split_once('-') else { return RangeRequest::Full };
    let (start, end) = (start.trim(), end.trim());
    let parsed = if start.is_empty() {
        match end.parse::<u64>() {
            Ok(0) => return RangeRequest::Unsatisfiable,
            Ok(n) => Some((size.saturating_sub(n), size)),
            Err(_) => None,
        }
    } else {
        match (start.parse::<u64>(), end) {
            (Ok(s), "") => Some((s, size)),
            (Ok(s), e) => match e.parse::<u64>() {
                Ok(e) if e >= s => Some((s, (e + 1).min(size))),
                _ => None,
            },
            _ => None,
        }
    };
    match parsed {
        None => RangeRequest::Full,
        Some((s, _)) if s >= size => RangeRequest::Unsatisfiable,
        Some((s, e)) => RangeRequest::Partial(s, e),
    }
}

/// `inline; filename="..."; filename*=UTF-8''...` with the original name (Telugu names included).
fn content_disposition(name: &str) -> Option<HeaderValue> {
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' { c } else { '_' }).collect();
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    HeaderValue::from_str(&format!("inline; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")).ok()
}

/// Streams the record's file; `Range` gives 206 with `Content-Range`.
#[utoipa::path(get, path = "/api/v1/records/{record_id}/file", tag = "records", security(("HTTPBearer" = [])),
    params(("record_id" = String, Path), ("Range" = Option<String>, Header, description = "bytes=start-end")),
    responses((status = 200, description = "The whole file"), (status = 206, description = "A byte range"),
        (status = 404, body = crate::http::docs::ErrorDetail), (status = 416, body = crate::http::docs::ErrorDetail)))]
pub async fn download(
    State(state): State<AppState>,
    auth: Auth<AnyRole>,
    Path(record_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let uid = parse_record_id(&record_id)?;
    let row = load_visible(&state, &auth, uid).await?;
    let no_file = || AppError::NotFound("File not found".into());
    let key = row.object_key.clone().ok_or_else(no_file)?;
    let size = match state.storage.size(&key).await {
        Ok(size) => size,
        Err(object_store::Error::NotFound { .. }) => return Err(no_file()),
        Err(e) => return Err(AppError::Internal(anyhow::Error::new(e).context("reading object metadata"))),
    };
    let range = parse_range(headers.get(header::RANGE).and_then(|v| v.to_str().ok()), size);
    let (status, get_range, length) = match range {
        RangeRequest::Full => (StatusCode::OK, None, size),
        RangeRequest::Partial(s, e) => (StatusCode::PARTIAL_CONTENT, Some(GetRange::Bounded(s..e)), e - s),
        RangeRequest::Unsatisfiable => {
            let mut response = (
                StatusCode::RANGE_NOT_SATISFIABLE,
                Json(serde_json::json!({ "detail": "Requested range not satisfiable" })),
            )
                .into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(response);
        }
    };
    // An empty object cannot be read with a range in every backend; it has no bytes anyway.
    let body = if length == 0 {
        Body::empty()
    } else {
        let result = match state.storage.get(&key, get_range.clone()).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Err(no_file()),
            Err(e) => return Err(AppError::Internal(anyhow::Error::new(e).context("reading the object"))),
        };
        Body::from_stream(result.into_stream().map_err(std::io::Error::other))
    };
    let mut response = Response::builder()
        .status(status)
        .header(header::CONTENT_LENGTH, length)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_TYPE, row.mime_type().unwrap_or("application/octet-stream"))
        .body(body)
        .map_err(|e| AppError::Internal(e.into()))?;
    if let Some(GetRange::Bounded(r)) = get_range
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {}-{}/{size}", r.start, r.end - 1))
    {
        response.headers_mut().insert(header::CONTENT_RANGE, v);
    }
    if let Some(v) = row.file_name().and_then(content_disposition) {
        response.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10), RangeRequest::Full);
        assert_eq!(parse_range(Some("bytes=0-3"), 10), RangeRequest::Partial(0, 4));
        assert_eq!(parse_range(Some("bytes=5-"), 10), RangeRequest::Partial(5, 10));
        assert_eq!(parse_range(Some("bytes=-3"), 10), RangeRequest::Partial(7, 10));
        assert_eq!(parse_range(Some("bytes=8-100"), 10), RangeRequest::Partial(8, 10));
        assert_eq!(parse_range(Some("bytes=10-"), 10), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-1,4-5"), 10), RangeRequest::Full);
        assert_eq!(parse_range(Some("items=0-1"), 10), RangeRequest::Full);
    }
}
