//! The console's own stylesheet and script, embedded in the binary (the service runs offline and
//! needs no front-end build) and served with cache headers.

use axum::{
    extract::Path,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};

const CSS: &str = include_str!("../../assets/console/console.css");
const JS: &str = include_str!("../../assets/console/console.js");

/// `GET /console/assets/{name}`: `console.css` or `console.js`, cacheable for a day (the pages
/// name them with the crate version, so an upgrade is picked up at once).
pub async fn serve(Path(name): Path<String>) -> Response {
    let (body, content_type) = match name.as_str() {
        "console.css" => (CSS, "text/css; charset=utf-8"),
        "console.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=86400")], body).into_response()
}

/// The version the pages append to asset URLs.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
