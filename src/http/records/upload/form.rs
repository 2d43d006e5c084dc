//! [`UploadBody`]: the upload forms, built from the multipart field stream as it arrives.
//!
//! Memory stays bounded whatever the client sends, with or without `Content-Length` (chunked
//! transfer encoding is counted byte by byte as it streams):
//! - the file part goes straight to a spool file ([`super::spool`]), limited to `MAX_FILE_SIZE`;
//! - the other parts are text: at most [`MAX_TEXT_PARTS`] of them, each at most
//!   [`MAX_TEXT_FIELD`] bytes, together at most [`MAX_TEXT_TOTAL`] bytes (413 beyond);
//! - the multipart framing (boundaries and part headers, which the parser buffers whole) is
//!   limited to [`MAX_FRAMING`] bytes, and the parser is fed at most [`PIECE`] bytes at a time, so
//!   it never holds more than that of a body that is still arriving.

use std::{
    io,
    path::Path,
    pin::Pin,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    task::{Context, Poll, ready},
};

use axum::{
    body::{Body, Bytes},
    extract::{FromRequest, Multipart, Request, multipart::MultipartError},
    http::{StatusCode, header},
};
use futures::{Stream, StreamExt};
use serde::de::DeserializeOwned;

use crate::storage::spool::{Spooled, Spooler, too_large};
use crate::{
    error::{AppError, FieldError, Result},
    http::{Validate, Validator, extract::parse_pairs},
    state::AppState,
};

/// Most text (non-file) parts a form may have.
pub const MAX_TEXT_PARTS: usize = 64;
/// Largest text part, in bytes.
pub const MAX_TEXT_FIELD: usize = 256 * 1024;
/// Largest sum of all text parts, in bytes (a form-urlencoded body may be this large).
pub const MAX_TEXT_TOTAL: usize = 512 * 1024;
/// Largest sum of multipart boundaries and part headers, in bytes.
pub const MAX_FRAMING: u64 = 256 * 1024;
/// Most bytes handed to the multipart parser at once. The parser copies what it is given into a
/// buffer of its own that grows to about twice the largest hand-over and keeps that size for the
/// whole upload: 8 KiB pieces keep it near 16 KiB (it was 32 KiB with the connection's 16 KiB reads),
/// which a thousand slow phones uploading at once multiply by a thousand.
const PIECE: usize = 8 * 1024;

/// A form type read by [`UploadBody`].
pub trait UploadFormSpec: DeserializeOwned + Validate {
    /// Names of the part that carries the file (the first such part is the file).
    const FILE_PARTS: &'static [&'static str];
    /// Whether a form-urlencoded body (text fields only) is accepted too.
    const URLENCODED: bool;
}

/// The file part of a form, spooled to disk.
pub struct FilePart {
    /// The bytes and their facts.
    pub spooled: Spooled,
    /// The client's file name, decoded (see [`decode_file_name`]).
    pub client_name: Option<String>,
}

/// A multipart (or, where allowed, form-urlencoded) upload form: its text fields deserialized
/// into `T` and validated (422 in the API's shape), and its file part spooled.
pub struct UploadBody<T> {
    /// The text fields.
    pub form: T,
    /// The file part, when there was one.
    pub file: Option<FilePart>,
}

impl<T: UploadFormSpec> FromRequest<AppState> for UploadBody<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self> {
        Self::read(request, state.config.uploads.max_file_size, state.config.uploads.upload_tmp_dir.as_deref()).await
    }
}

impl<T: UploadFormSpec> UploadBody<T> {
    /// Reads the form from a request: a file part of at most `max` bytes is spooled into
    /// `spool_dir` (the system temp dir when `None`).
    pub async fn read(request: Request, max: u64, spool_dir: Option<&Path>) -> Result<Self> {
        check_declared_length(&request, max)?;
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let (pairs, file) = if T::URLENCODED && content_type.starts_with("application/x-www-form-urlencoded") {
            (read_urlencoded(request.into_body()).await?, None)
        } else {
            read_multipart(request, max, spool_dir, T::FILE_PARTS).await?
        };
        let form: T = parse_pairs("body", pairs)?;
        Validator::check("body", &form)?;
        Ok(Self { form, file })
    }
}

fn body_parse_error() -> AppError {
    AppError::BadRequest("There was an error parsing the body".into())
}

fn too_many_fields() -> AppError {
    AppError::PayloadTooLarge(format!("Too many form fields: the limit is {MAX_TEXT_PARTS}"))
}

fn text_too_large() -> AppError {
    AppError::PayloadTooLarge(format!(
        "Form fields too large: the limit is {MAX_TEXT_FIELD} bytes per field and {MAX_TEXT_TOTAL} in all"
    ))
}

/// Refuses a body whose declared length is over the limit before reading any of it (a body
/// without one is counted as it streams).
fn check_declared_length(request: &Request, max: u64) -> Result<()> {
    let declared =
        request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > max_body(max) => Err(too_large(max)),
        _ => Ok(()),
    }
}

/// The largest body a form with a file of `max_file` bytes can need.
fn max_body(max_file: u64) -> u64 {
    max_file.saturating_add(MAX_TEXT_TOTAL as u64).saturating_add(MAX_FRAMING)
}

async fn read_urlencoded(body: Body) -> Result<Vec<(String, String)>> {
    let mut stream = body.into_data_stream();
    let mut raw = Vec::new();
    while let Some(bytes) = stream.next().await {
        let bytes = bytes.map_err(|_| body_parse_error())?;
        if raw.len() + bytes.len() > MAX_TEXT_TOTAL {
            return Err(text_too_large());
        }
        raw.extend_from_slice(&bytes);
    }
    let pairs = form_urlencoded::parse(&raw);
    if pairs.count() > MAX_TEXT_PARTS {
        return Err(too_many_fields());
    }
    Ok(pairs.map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
}

/// Why the body guard stopped a body.
#[derive(Debug, Clone, Copy)]
enum Trip {
    TooLarge,
    Framing,
}

/// Counters shared by the body guard (bytes read) and the form reader (bytes of part data
/// received); the difference is what the parser holds or spent on framing.
#[derive(Default)]
struct Meter {
    read: AtomicU64,
    data: AtomicU64,
    tripped: OnceLock<Trip>,
}

impl Meter {
    fn took(&self, bytes: usize) {
        self.data.fetch_add(bytes as u64, Relaxed);
    }

    /// The error for a failed read: the guard's reason when it stopped the body.
    fn error(&self, e: MultipartError, max_file: u64) -> AppError {
        match self.tripped.get() {
            Some(Trip::TooLarge) => too_large(max_file),
            Some(Trip::Framing) => AppError::PayloadTooLarge("The form's part headers are too large".into()),
            None if e.status() == StatusCode::PAYLOAD_TOO_LARGE => too_large(max_file),
            None => body_parse_error(),
        }
    }
}

/// Feeds a body to the multipart parser one [`PIECE`] at a time, counting as it goes.
struct Guard<S> {
    inner: S,
    meter: Arc<Meter>,
    held: Bytes,
    paused: bool,
    max_total: u64,
}

impl<S> Stream for Guard<S>
where
    S: Stream<Item = std::result::Result<Bytes, axum::Error>> + Unpin,
{
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.paused {
            // The parser pulls everything that is ready into one buffer; pausing after each
            // piece makes it parse (and hand on) what it has before it gets more.
            this.paused = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if this.held.is_empty() {
            match ready!(Pin::new(&mut this.inner).poll_next(cx)) {
                None => return Poll::Ready(None),
                Some(Err(e)) => return Poll::Ready(Some(Err(io::Error::other(e)))),
                Some(Ok(bytes)) => this.held = bytes,
            }
        }
        let piece = this.held.split_to(this.held.len().min(PIECE));
        let read = this.meter.read.fetch_add(piece.len() as u64, Relaxed) + piece.len() as u64;
        let framing = read.saturating_sub(this.meter.data.load(Relaxed));
        let trip = if read > this.max_total {
            Some(Trip::TooLarge)
        } else if framing > MAX_FRAMING + 2 * PIECE as u64 {
            Some(Trip::Framing)
        } else {
            None
        };
        if let Some(trip) = trip {
            let _ = this.meter.tripped.set(trip);
            return Poll::Ready(Some(Err(io::Error::other("upload body refused"))));
        }
        this.paused = true;
        Poll::Ready(Some(Ok(piece)))
    }
}

/// Reads a multipart body: text parts into pairs, the first part named in `file_parts` into a
/// spool file.
async fn read_multipart(
    request: Request,
    max: u64,
    spool_dir: Option<&Path>,
    file_parts: &[&str],
) -> Result<(Vec<(String, String)>, Option<FilePart>)> {
    let meter = Arc::new(Meter::default());
    let (parts, body) = request.into_parts();
    let guard = Guard {
        inner: body.into_data_stream(),
        meter: meter.clone(),
        held: Bytes::new(),
        paused: false,
        max_total: max_body(max),
    };
    let request = Request::from_parts(parts, Body::from_stream(guard));
    let mut mp = Multipart::from_request(request, &())
        .await
        .map_err(|e| AppError::field(FieldError::new("multipart_type", &["body"], e.body_text())))?;

    let (mut pairs, mut file, mut text_bytes) = (Vec::new(), None, 0usize);
    while let Some(mut field) = mp.next_field().await.map_err(|e| meter.error(e, max))? {
        let name = field.name().unwrap_or("").to_owned();
        if file.is_none() && file_parts.contains(&name.as_str()) {
            let client_name = field.file_name().filter(|n| !n.is_empty()).map(decode_file_name);
            let mut spooler = Spooler::new(max, spool_dir)?;
            while let Some(chunk) = field.chunk().await.map_err(|e| meter.error(e, max))? {
                meter.took(chunk.len());
                spooler.write(&chunk).await?;
            }
            file = Some(FilePart { spooled: spooler.finish().await?, client_name });
            continue;
        }
        if pairs.len() == MAX_TEXT_PARTS {
            return Err(too_many_fields());
        }
        let mut value = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|e| meter.error(e, max))? {
            meter.took(chunk.len());
            text_bytes += chunk.len();
            if value.len() + chunk.len() > MAX_TEXT_FIELD || text_bytes > MAX_TEXT_TOTAL {
                return Err(text_too_large());
            }
            value.extend_from_slice(&chunk);
        }
        let value =
            String::from_utf8(value).map_err(|_| AppError::BadRequest("Form fields must be UTF-8 text".into()))?;
        pairs.push((name, value));
    }
    Ok((pairs, file))
}

/// The client's file name as recorded: percent-decoded where needed, without control characters
/// (which no real name has, and PostgreSQL cannot store NUL).
pub fn decode_file_name(raw: &str) -> String {
    percent_decode_file_name(raw).chars().filter(|c| !c.is_control()).collect()
}

/// Some clients percent-encode non-ASCII file names inside the quotes; decode those (only when
/// the result is valid UTF-8 that really needed encoding), keep every other name as sent.
fn percent_decode_file_name(raw: &str) -> String {
    if !raw.is_ascii() || !raw.contains('%') {
        return raw.to_owned();
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    match String::from_utf8(out) {
        Ok(decoded) if !decoded.is_ascii() => decoded,
        _ => raw.to_owned(),
    }
}

/// Reads `pieces` (sent as `content_type`) as a `T` form with a 1 MiB file limit, for the fuzz
/// target in `fuzz/` (not an API): any answer is fine, a panic or an unbounded allocation is not.
#[doc(hidden)]
pub async fn fuzz_read<T: UploadFormSpec>(content_type: &str, pieces: Vec<Bytes>, spool_dir: &Path) {
    let Ok(content_type) = axum::http::HeaderValue::from_str(content_type) else { return };
    let body = Body::from_stream(futures::stream::iter(pieces.into_iter().map(Ok::<_, io::Error>)));
    let mut request = Request::new(body);
    request.headers_mut().insert(header::CONTENT_TYPE, content_type);
    if let Ok(form) = UploadBody::<T>::read(request, 1024 * 1024, Some(spool_dir)).await
        && let Some(file) = &form.file
    {
        assert!(file.spooled.size <= 1024 * 1024);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_decoded_only_when_percent_encoded_utf8() {
        assert_eq!(decode_file_name("%E0%B0%AA%E0%B0%BE%E0%B0%9F.mp3"), "పాట.mp3");
        assert_eq!(decode_file_name("పాట.mp3"), "పాట.mp3");
        assert_eq!(decode_file_name("100%25 done.txt"), "100%25 done.txt");
        assert_eq!(decode_file_name("50%.txt"), "50%.txt");
    }

    #[tokio::test]
    async fn the_guard_hands_on_small_pieces_and_stops_endless_framing() {
        let meter = Arc::new(Meter::default());
        let frames = futures::stream::iter(vec![Ok::<_, axum::Error>(Bytes::from(vec![b'h'; 1024 * 1024]))]);
        let mut guard =
            Guard { inner: frames, meter: meter.clone(), held: Bytes::new(), paused: false, max_total: u64::MAX };
        let mut pieces = 0;
        let mut refused = false;
        while let Some(piece) = guard.next().await {
            match piece {
                Ok(piece) => {
                    assert!(piece.len() <= PIECE);
                    pieces += 1;
                }
                Err(_) => {
                    refused = true;
                    break;
                }
            }
        }
        // Nothing was taken as part data: after the framing allowance the body is refused.
        assert!(refused, "a megabyte of headers is refused");
        assert!(matches!(meter.tripped.get(), Some(Trip::Framing)));
        assert!((pieces as u64 * PIECE as u64) <= MAX_FRAMING + 2 * PIECE as u64);
    }
}
