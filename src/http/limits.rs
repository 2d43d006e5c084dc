//! The limits of request fields, each written once.
//!
//! Validation code uses these constants. The OpenAPI document states the same numbers, but
//! utoipa's `#[schema(...)]` and `#[param(...)]` attributes take only literals, so the numbers
//! there are written out and `crate::openapi`'s tests check every one against its constant.

pub use crate::domain::status::STATUS_MAX_CHARS as RECORD_STATUS_MAX;

/// Longest phone number as typed (`user.phone` is `varchar(20)`).
pub const PHONE_MAX: usize = 20;
/// Longest password a login or a password change takes as the current one.
pub const LOGIN_PASSWORD_MAX: usize = 1024;
/// Shortest new password: sign-up by code, password changes and resets (the production service's
/// rule, stricter than the original's 6).
pub const PASSWORD_MIN: usize = 8;
/// Shortest password of `POST /users/` (the production service's `UserCreate` keeps the
/// original's 6).
pub const USER_CREATE_PASSWORD_MIN: usize = 6;
/// Longest new password.
pub const PASSWORD_MAX: usize = 100;
/// Shortest one-time code.
pub const OTP_CODE_MIN: usize = 4;
/// Longest one-time code.
pub const OTP_CODE_MAX: usize = 8;
/// Longest display name of a user.
pub const USER_NAME_MAX: usize = 100;
/// Longest e-mail address.
pub const EMAIL_MAX: usize = 100;
/// Longest gender text.
pub const GENDER_MAX: usize = 20;
/// Longest place.
pub const PLACE_MAX: usize = 100;
/// Longest role description.
pub const ROLE_DESCRIPTION_MAX: usize = 255;
/// Largest page (`limit`) of the users and records lists and of `nearby` and `bbox`.
pub const PAGE_MAX: i64 = 1000;

/// Longest category name (its slug).
pub const CATEGORY_NAME_MAX: usize = 100;
/// Longest category title.
pub const CATEGORY_TITLE_MAX: usize = 200;
/// Longest category description.
pub const CATEGORY_DESCRIPTION_MAX: usize = 500;

/// Longest record title.
pub const RECORD_TITLE_MAX: usize = 200;
/// Longest record description.
pub const RECORD_DESCRIPTION_MAX: usize = 1000;
/// Longest `language` and `release_rights` of a record.
pub const RECORD_TAG_MAX: usize = 50;
/// Longest reviewer's note.
pub const REVIEW_NOTE_MAX: usize = 1000;
/// Longest file name of an upload.
pub const FILE_NAME_MAX: usize = 255;
/// Most chunks of a resumable upload.
pub const TOTAL_CHUNKS_MAX: i64 = 100_000;
/// Largest generated sample file, in KiB (`file_size_kb`).
pub const SAMPLE_FILE_KB_MAX: i64 = 1000;
/// Longest life of a `record-url`, in minutes.
pub const RECORD_URL_MINUTES_MAX: i64 = 120;
/// Latitudes are within ±this many degrees.
pub const LATITUDE_MAX: f64 = 90.0;
/// Longitudes are within ±this many degrees.
pub const LONGITUDE_MAX: f64 = 180.0;
/// Largest `nearby` radius, in metres.
pub const NEARBY_RADIUS_MAX_M: f64 = 50_000.0;
/// Largest `max_distance_meters` of the distance search.
pub const DISTANCE_MAX_M: f64 = 100_000.0;
/// Largest page of the distance search.
pub const DISTANCE_PAGE_MAX: i64 = 500;
/// Most records one review-queue call claims.
pub const QUEUE_BATCH_MAX: i64 = 50;
/// Shortest review-queue lease, in seconds.
pub const LEASE_MIN_SECONDS: i64 = 30;
/// Longest review-queue lease, in seconds.
pub const LEASE_MAX_SECONDS: i64 = 3600;
