//! `GET /records/{id}/file`: streams a record's object to its owner, reviewers and admins, with
//! single-range HTTP Range support (206) so audio and video can be seeked; or, with
//! `FILE_DOWNLOAD=redirect` on S3 storage, sends them to a short-lived presigned URL of the object.

use axum::{
    Json,
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures::TryStreamExt;
use object_store::GetRange;

use super::shared::{RecordRow, load_visible, parse_record_id};
use crate::{
    auth::{Auth, roles::AnyRole},
    config::FileDownload,
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

/// A byte position of a range: ASCII digits only; a number too large for `u64` saturates, which
/// is right for every use here (an end past the file is clamped, a start past it is unsatisfiable,
/// a suffix longer than the file means all of it).
fn position(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse::<u64>().unwrap_or(u64::MAX))
}

/// Parses `bytes=a-b`, `bytes=a-` and `bytes=-n` (RFC 9110 §14.1.2), with checked arithmetic: an
/// end past the last byte is clamped to it, a start at or past the end of the object is 416.
/// Multiple ranges, other units and malformed specs are answered with the whole object, which
/// RFC 9110 allows.
pub fn parse_range(header: Option<&str>, size: u64) -> RangeRequest {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else { return RangeRequest::Full };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((start, end)) = spec.trim().split_once('-') else { return RangeRequest::Full };
    let (start, end) = (start.trim(), end.trim());
    let Some(last) = size.checked_sub(1) else {
        // An empty object has no byte to return for any valid range.
        return if start.is_empty() && end.is_empty() { RangeRequest::Full } else { RangeRequest::Unsatisfiable };
    };
    match (position(start), end) {
        (None, _) if !start.is_empty() => RangeRequest::Full,
        // `bytes=-n`: the last n bytes (all of them when n is larger).
        (None, _) => match position(end) {
            Some(0) => RangeRequest::Unsatisfiable,
            Some(n) => RangeRequest::Partial(size - n.min(size), size),
            None => RangeRequest::Full,
        },
        (Some(first), _) if first > last => RangeRequest::Unsatisfiable,
        (Some(first), "") => RangeRequest::Partial(first, size),
        (Some(first), end) => match position(end) {
            Some(end) if end >= first => RangeRequest::Partial(first, end.min(last) + 1),
            _ => RangeRequest::Full,
        },
    }
}

/// `Content-Disposition` of a download: `inline` for audio, video, raster images and plain text
/// (browsers show them), `attachment` for anything else. The name is given twice (RFC 6266):
/// `filename` with ASCII only (others become `_`), and `filename*=UTF-8''` percent-encoded, so
/// Telugu names survive; quotes, backslashes and control characters never reach the header.
pub fn content_disposition(name: &str, mime: &str) -> HeaderValue {
    let mime = mime.trim().to_ascii_lowercase();
    let inline = ["audio/", "video/", "image/", "text/plain"].iter().any(|p| mime.starts_with(p))
        && !mime.starts_with("image/svg");
    // Only the last path segment: a name is never a path.
    let name = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' && c != '%' { c } else { '_' }).collect();
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let kind = if inline { "inline" } else { "attachment" };
    let value = if name.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
    };
    // Every byte above is visible ASCII or a space, so this cannot fail; the bare kind is a fallback.
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("attachment"))
}

/// Streams the record's file; `Range` gives 206 with `Content-Range`. With `FILE_DOWNLOAD=redirect`
/// (S3 storage), answers 307 to a presigned URL of the object instead, after the same checks.
#[utoipa::path(get, path = "/api/v1/records/{record_id}/file", tag = "records", security(("HTTPBearer" = [])),
    params(("record_id" = String, Path), ("Range" = Option<String>, Header, description = "bytes=start-end")),
    responses((status = 200, description = "The whole file"), (status = 206, description = "A byte range"),
        (status = 307, description = "FILE_DOWNLOAD=redirect: `Location` is a presigned URL of the object, \
            valid for FILE_REDIRECT_TTL_SECONDS (send `Range` there)"),
        (status = 404, body = crate::error::ErrorDetail), (status = 416, body = crate::error::ErrorDetail)))]
pub async fn download(
    State(state): State<AppState>,
    auth: Auth<AnyRole>,
    Path(record_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let uid = parse_record_id(&record_id)?;
    let row = load_visible(&state, &auth, uid).await?;
    stream_file(&state, row, &headers).await
}

/// Streams a record's stored object (whole, or the range `headers` ask for), for a caller
/// already allowed to read it.
pub(super) async fn stream_file(state: &AppState, row: RecordRow, headers: &HeaderMap) -> Result<Response> {
    let no_file = || AppError::NotFound("File not found".into());
    let key = row.object_key.clone().ok_or_else(no_file)?;
    let size = match state.storage.size(&key).await {
        Ok(size) => size,
        Err(object_store::Error::NotFound { .. }) => return Err(no_file()),
        Err(e) => return Err(AppError::Internal(anyhow::Error::new(e).context("reading object metadata"))),
    };
    // Checked after the object's metadata, so a missing object is still this API's 404 and not
    // the bucket's.
    if state.config.storage.file_download == FileDownload::Redirect
        && let Some(url) = state.storage.presigned_get(&key, state.config.file_redirect_ttl()).await?
    {
        return redirect_to(&url);
    }
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
        .header(header::CONTENT_TYPE, row.mime_type.as_deref().unwrap_or("application/octet-stream"))
        .body(body)
        .map_err(|e| AppError::Internal(e.into()))?;
    if let Some(GetRange::Bounded(r)) = get_range
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {}-{}/{size}", r.start, r.end - 1))
    {
        response.headers_mut().insert(header::CONTENT_RANGE, v);
    }
    // The record's own name, else the stored object's (`<uid>.<ext>`).
    let name = row.file_name.as_deref().or_else(|| key.rsplit('/').next()).unwrap_or_default();
    let headers = response.headers_mut();
    headers
        .insert(header::CONTENT_DISPOSITION, content_disposition(name, row.mime_type.as_deref().unwrap_or_default()));
    // Opened in a browser tab, a stored file gets no origin of its own: no scripts, no cookies,
    // no same-origin requests to this API, whatever its bytes are.
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox"));
    Ok(response)
}

/// 307 to a presigned object URL. Not cacheable: the URL expires and grants access by itself.
fn redirect_to(url: &str) -> Result<Response> {
    let location = HeaderValue::from_str(url).map_err(|e| AppError::Internal(e.into()))?;
    let mut response = StatusCode::TEMPORARY_REDIRECT.into_response();
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, location);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
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

    #[test]
    fn ranges_past_u64_or_past_the_file_never_overflow() {
        let max = u64::MAX.to_string();
        // The end clamps to the last byte, whatever its size.
        assert_eq!(parse_range(Some(&format!("bytes=5-{max}")), 10), RangeRequest::Partial(5, 10));
        assert_eq!(parse_range(Some("bytes=0-99999999999999999999999999"), 10), RangeRequest::Partial(0, 10));
        assert_eq!(parse_range(Some(&format!("bytes=0-{max}")), u64::MAX), RangeRequest::Partial(0, u64::MAX));
        // A start past the end is unsatisfiable, even past u64.
        assert_eq!(parse_range(Some(&format!("bytes={max}-")), 10), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=99999999999999999999999999-"), 10), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=10-20"), 10), RangeRequest::Unsatisfiable);
        // A suffix longer than the file is the whole file.
        assert_eq!(parse_range(Some(&format!("bytes=-{max}")), 10), RangeRequest::Partial(0, 10));
        assert_eq!(parse_range(Some("bytes=-99999999999999999999999999"), 10), RangeRequest::Partial(0, 10));
        assert_eq!(parse_range(Some("bytes=-0"), 10), RangeRequest::Unsatisfiable);
        // Malformed specs are ignored.
        for bad in ["bytes=5-3", "bytes=a-3", "bytes=-", "bytes=+1-2", "bytes=1-+2", "bytes=--1", "bytes=1"] {
            assert_eq!(parse_range(Some(bad), 10), RangeRequest::Full, "{bad}");
        }
        // An empty object.
        assert_eq!(parse_range(Some("bytes=0-"), 0), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-5"), 0), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range(None, 0), RangeRequest::Full);
    }

    #[test]
    fn dispositions_are_safe_for_any_name() {
        let value = |name: &str, mime: &str| content_disposition(name, mime).to_str().unwrap().to_owned();
        assert_eq!(
            value("పాట.wav", "audio/wav"),
            "inline; filename=\"___.wav\"; filename*=UTF-8''%E0%B0%AA%E0%B0%BE%E0%B0%9F.wav"
        );
        assert_eq!(
            value("a\"b;c%.txt", "text/plain"),
            "inline; filename=\"a_b;c_.txt\"; filename*=UTF-8''a%22b%3Bc%25.txt"
        );
        assert_eq!(value("C:\\Users\\me\\x.png", "image/png"), "inline; filename=\"x.png\"; filename*=UTF-8''x.png");
        assert_eq!(
            value("../../etc/passwd", "application/octet-stream"),
            "attachment; filename=\"passwd\"; filename*=UTF-8''passwd"
        );
        assert_eq!(value("x.svg", "image/svg+xml"), "attachment; filename=\"x.svg\"; filename*=UTF-8''x.svg");
        assert_eq!(
            value("line\r\nbreak.png", "image/png"),
            "inline; filename=\"line__break.png\"; filename*=UTF-8''line%0D%0Abreak.png"
        );
        assert_eq!(value("", "video/mp4"), "inline");
    }
}
