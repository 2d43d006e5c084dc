//! The OpenAPI document (`/api/v1/openapi.json`), Swagger UI (`/docs`) and ReDoc (`/redoc`),
//! all served from the binary: no CDN is needed to read the documentation.

use std::sync::Arc;

use axum::{
    Router,
    http::{StatusCode, header},
    response::{Html, IntoResponse},
    routing::get,
};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};
use utoipa_swagger_ui::SwaggerUi;

use crate::{error::FieldError, http, state::AppState};

/// Path of the OpenAPI document, as the original serves it.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

/// The base document; each resource module contributes its own paths through [`openapi`].
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Telugu Corpus Collections API",
        description = "Telugu corpus collections backend API",
        version = "0.1.0"
    ),
    paths(http::root::root, http::health::health, http::health::ready),
    components(schemas(FieldError, ErrorDetail, ValidationErrorBody)),
    modifiers(&BearerSecurity),
    tags(
        (name = "root", description = "Service information"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
pub struct BaseDoc;

/// Error body of every non-validation error.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ErrorDetail {
    /// Human-readable message.
    detail: String,
}

/// Body of a 422 answer.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ValidationErrorBody {
    /// Always `Validation error`.
    detail: String,
    /// One entry per problem.
    errors: Vec<FieldError>,
}

struct BearerSecurity;

impl Modify for BearerSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "HTTPBearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// The whole OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = BaseDoc::openapi();
    doc.merge(<http::categories::CategoriesDoc as OpenApi>::openapi());
    doc.merge(<http::records::RecordsDoc as OpenApi>::openapi());
    doc.merge(http::accounts::AccountsDoc::openapi());
    doc
}

/// Routes of the documentation.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(SwaggerUi::new("/docs").url(OPENAPI_PATH, openapi()))
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
