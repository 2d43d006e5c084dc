//! Assembles the application: every resource router, the documentation, and the layers
//! (request id, tracing, CORS, compression of JSON, panic safety, security headers, trailing-slash
//! tolerance).

use std::time::Duration;

use axum::{
    Router,
    extract::{Request, State},
    http::{Extensions, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, Version, header},
    response::Response,
};
use tower::{Layer, util::MapRequestLayer};
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::{CompressionLayer, CompressionLevel, Predicate, predicate::SizeAbove},
    cors::{AllowOrigin, Any, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
    trace::TraceLayer,
};
use tracing::Span;

use crate::{error::status_detail, http, state::AppState};

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The API routes, without layers (resource modules add theirs here).
pub fn api_routes() -> Router<AppState> {
    Router::new()
        .merge(http::accounts::router())
        .merge(http::categories::router())
        .merge(http::records::router())
        .merge(http::tasks::router())
}

/// The full router with every layer, bound to `state`.
pub fn build(state: AppState) -> Router {
    let cors = cors_layer(state.config.cors_origins());
    let metrics = state.config.metrics_enabled();
    let mut router = Router::new()
        .merge(http::root::router())
        .merge(http::health::router())
        .merge(http::docs::router(crate::openapi::openapi()))
        .nest("/api/v1", api_routes())
        .merge(crate::console::router(Router::new().nest("/api/v1", api_routes()).with_state(state.clone())));
    if metrics {
        router = router.merge(http::metrics::router());
    }
    let router = router
        .fallback(|| async { status_detail(StatusCode::NOT_FOUND) })
        .method_not_allowed_fallback(|| async { status_detail(StatusCode::METHOD_NOT_ALLOWED) })
        .layer(axum::middleware::from_fn_with_state(state.clone(), forget_record_pages_after_writes))
        .layer(axum::middleware::from_fn(refuse_nul_in_path))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("handler panicked");
            axum::response::IntoResponse::into_response(crate::error::AppError::Internal(anyhow::anyhow!(
                "handler panicked"
            )))
        }))
        .layer(cors)
        .layer(compression())
        // Outside the panic and CORS layers, so every answer has them, errors included.
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("referrer-policy"),
            HeaderValue::from_static("no-referrer"),
        ))
        // Frame denial only: a Content-Security-Policy here would have to allow what Swagger UI
        // and ReDoc need; file downloads set their own (`sandbox`).
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("x-frame-options"),
            HeaderValue::from_static("DENY"),
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let request_id = request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
                    // The path only (query strings may carry phone numbers), with phones in paths masked.
                    tracing::info_span!("request", method = %request.method(), path = %redacted_path(request.uri().path()), request_id = %request_id)
                })
                .on_response(|response: &Response, latency: Duration, _span: &Span| {
                    tracing::info!(status = response.status().as_u16(), latency_ms = latency.as_millis() as u64, "response");
                }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid));
    // Last, so the latency covers every other layer. `Router::layer` wraps each route, after
    // routing, which is what lets it see the matched route template.
    let router = if metrics {
        router.layer(axum::middleware::from_fn_with_state(state.clone(), http::metrics::track))
    } else {
        router
    };
    router.with_state(state)
}

/// Compresses JSON answers (record lists are ~70 KB per 100 records; the OpenAPI document) with
/// gzip or br when the client accepts one. Anything else passes untouched: file downloads keep
/// their bytes, length and `Range` semantics, and a ranged answer is never compressed.
fn compression() -> CompressionLayer<impl Predicate> {
    let json_only = |_: StatusCode, _: Version, headers: &HeaderMap, _: &Extensions| {
        !headers.contains_key(header::CONTENT_RANGE)
            && headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|content_type| {
                let mime = content_type.split(';').next().unwrap_or_default().trim();
                mime.eq_ignore_ascii_case("application/json") || mime.to_ascii_lowercase().ends_with("+json")
            })
    };
    // Below a kilobyte the saving does not pay for the work. Level 1 (gzip and br): a page of
    // 100 records (74 KB) packs to 7.4 KB instead of 6.5 KB at gzip's default level 6, in well
    // under half the time, and that time is spent on every answer, on the cores PostgreSQL needs.
    CompressionLayer::new().quality(CompressionLevel::Precise(1)).compress_when(SizeAbove::new(1024).and(json_only))
}

/// Empties the records list cache once a request that may have written (any method but GET,
/// HEAD and OPTIONS) has been handled, before its answer leaves: the client's next read through
/// this process sees its write even if the change notification is still on its way.
async fn forget_record_pages_after_writes(
    State(state): State<AppState>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let may_write = !request.method().is_safe();
    let response = next.run(request).await;
    if may_write {
        state.record_pages.forget_all();
    }
    response
}

/// No resource has a NUL character in its path (and PostgreSQL cannot store one): such a path
/// is answered 404 before any handler sees it.
async fn refuse_nul_in_path(request: Request, next: axum::middleware::Next) -> Response {
    if request.uri().path().to_ascii_lowercase().contains("%00") {
        return status_detail(StatusCode::NOT_FOUND);
    }
    next.run(request).await
}

/// The request path as logged: a phone number in `/users/phone/{phone}` is replaced by `{phone}`.
fn redacted_path(path: &str) -> std::borrow::Cow<'_, str> {
    match path.find("/users/phone/") {
        Some(at) => format!("{}/users/phone/{{phone}}", &path[..at]).into(),
        None => path.into(),
    }
}

/// Wraps the router so that API collection routes answer with and without a trailing slash,
/// directly (the original redirected with 307, which some clients do not follow for POST).
pub fn with_trailing_slash_tolerance(
    router: Router,
) -> impl tower::Service<Request, Response = Response, Error = std::convert::Infallible, Future = impl Send>
+ Clone
+ Send
+ 'static {
    MapRequestLayer::new(trim_api_trailing_slash).layer(router)
}

fn trim_api_trailing_slash(mut request: Request) -> Request {
    let path = request.uri().path();
    if path.starts_with("/api/v1/") && path.len() > "/api/v1/".len() && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let new = match request.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_owned(),
        };
        if let Ok(uri) = new.parse::<Uri>() {
            *request.uri_mut() = uri;
        }
    }
    request
}

fn cors_layer(origins: Option<Vec<String>>) -> CorsLayer {
    let base = CorsLayer::new()
        .allow_methods([
            Method::DELETE,
            Method::GET,
            Method::HEAD,
            Method::OPTIONS,
            Method::PATCH,
            Method::POST,
            Method::PUT,
        ])
        .max_age(Duration::from_secs(600));
    match origins {
        // Any origin, but then never with credentials (browsers refuse `*` with credentials anyway).
        None => base.allow_origin(Any).allow_headers(Any),
        Some(list) => {
            let values: Vec<HeaderValue> = list.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
            base.allow_origin(AllowOrigin::list(values))
                .allow_headers(tower_http::cors::AllowHeaders::mirror_request())
                .allow_credentials(true)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn phone_numbers_in_paths_are_not_logged() {
        assert_eq!(super::redacted_path("/api/v1/users/phone/+919000000001"), "/api/v1/users/phone/{phone}");
        assert_eq!(super::redacted_path("/api/v1/users/phone/%2B919000000001/"), "/api/v1/users/phone/{phone}");
        assert_eq!(super::redacted_path("/api/v1/records"), "/api/v1/records");
    }
}
