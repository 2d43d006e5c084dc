//! The OpenAPI document: the service's own paths and every resource's paths and schemas, merged.
//!
//! It is assembled here, beside the router and above the resources: each resource lists its own
//! paths (`AccountsDoc`, `CategoriesDoc`, `RecordsDoc`) and names the error envelope of
//! [`crate::error`]; none of them imports this module. `http::docs` serves the document it is
//! handed.

use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use crate::{
    error::{ErrorDetail, FieldError, ValidationErrorBody},
    http,
};

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
