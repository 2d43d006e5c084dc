//! The OpenAPI document (`/api/v1/openapi.json`), Swagger UI (`/docs`) and ReDoc (`/redoc`),
//! all served from the binary: no CDN is needed to read the documentation.

use std::sync::Arc;

use axum::{
    Router,
    http::{StatusCode, header},
    response::{Html, IntoResponse},
    routing::get,
};
use utoipa_swagger_ui::SwaggerUi;

/// Path of the OpenAPI document, as the original serves it.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

/// Routes of the documentation, serving `doc` (the whole document, assembled above the
/// resources and passed in, so that this module depends on none of them).
pub fn router<S: Clone + Send + Sync + 'static>(doc: utoipa::openapi::OpenApi) -> Router<S> {
    Router::new()
        .merge(SwaggerUi::new("/docs").url(OPENAPI_PATH, doc))
        .route("/docs/oauth2-redirect", get(oauth2_redirect))
        .route("/redoc", get(redoc))
        .route("/redoc/redoc.standalone.js", get(redoc_js))
}

async fn oauth2_redirect() -> impl IntoResponse {
    let config = Arc::new(utoipa_swagger_ui::Config::from(OPENAPI_PATH));
    match utoipa_swagger_ui::serve("oauth2-redirect.html", config) {
        Ok(Some(file)) => {
            (StatusCode::OK, [(header::CONTENT_TYPE, file.content_type)], file.bytes.to_vec()).into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn redoc() -> Html<String> {
    Html(format!(
        "<!DOCTYPE html>\n<html><head><title>Telugu Corpus Collections API - ReDoc</title>\
         <meta charset=\"utf-8\"/><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <style>body{{margin:0;padding:0;}}</style></head>\
         <body><redoc spec-url=\"{OPENAPI_PATH}\"></redoc>\
         <script src=\"/redoc/redoc.standalone.js\"></script></body></html>"
    ))
}

async fn redoc_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_bytes!("../../assets/redoc/redoc.standalone.js").as_slice(),
    )
}
