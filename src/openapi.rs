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
    doc.merge(<http::tasks::TasksDoc as OpenApi>::openapi());
    doc
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::http::limits::*;

    /// The schema of property `name` of component `schema`.
    fn prop<'a>(doc: &'a Value, schema: &str, name: &str) -> &'a Value {
        let found = &doc["components"]["schemas"][schema]["properties"][name];
        assert!(found.is_object(), "no property {schema}.{name}");
        found
    }

    /// The schema of query parameter `name` of `method path`.
    fn param<'a>(doc: &'a Value, method: &str, path: &str, name: &str) -> &'a Value {
        let params = doc["paths"][path][method]["parameters"].as_array().unwrap_or_else(|| panic!("{method} {path}"));
        let found = params.iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("{method} {path} ?{name}"));
        &found["schema"]
    }

    #[track_caller]
    fn keyword(schema: &Value, keyword: &str, expected: f64) {
        assert_eq!(schema[keyword].as_f64(), Some(expected), "{keyword} of {schema}");
    }

    #[track_caller]
    fn string(schema: &Value, min: Option<usize>, max: usize) {
        if let Some(min) = min {
            keyword(schema, "minLength", min as f64);
        }
        keyword(schema, "maxLength", max as f64);
    }

    #[track_caller]
    fn range(schema: &Value, min: f64, max: f64) {
        keyword(schema, "minimum", min);
        keyword(schema, "maximum", max);
    }

    /// utoipa's attributes take literals only: every limit the document states is checked here
    /// against the constant the validation code uses, so the two cannot drift apart.
    #[test]
    fn the_document_states_the_limits_the_validation_code_enforces() {
        let doc = serde_json::to_value(super::openapi()).unwrap();
        let d = &doc;

        // Accounts.
        string(prop(d, "LoginRequest", "phone"), Some(1), PHONE_MAX);
        string(prop(d, "LoginRequest", "password"), Some(1), LOGIN_PASSWORD_MAX);
        string(prop(d, "PasswordChangeRequest", "current_password"), Some(1), LOGIN_PASSWORD_MAX);
        string(prop(d, "PasswordResetRequest", "phone"), Some(1), PHONE_MAX);
        for schema in ["PasswordChangeRequest", "PasswordResetRequest", "ForgotPasswordVerifyRequest"] {
            string(prop(d, schema, "new_password"), Some(PASSWORD_MIN), PASSWORD_MAX);
        }
        string(prop(d, "UserCreateRequest", "password"), Some(USER_CREATE_PASSWORD_MIN), PASSWORD_MAX);
        // The optional sign-up password states its minimum in a pattern (empty means none).
        let signup_password = prop(d, "SignupVerifyRequest", "password");
        string(signup_password, None, PASSWORD_MAX);
        let pattern = signup_password["pattern"].as_str().unwrap();
        assert!(pattern.ends_with(&format!("{{{PASSWORD_MIN},}}")), "{pattern}");
        for schema in ["OtpVerifyRequest", "SignupVerifyRequest", "ForgotPasswordVerifyRequest"] {
            string(prop(d, schema, "otp_code"), Some(OTP_CODE_MIN), OTP_CODE_MAX);
        }
        for schema in ["SignupVerifyRequest", "UserCreateRequest", "UserUpdateRequest"] {
            string(prop(d, schema, "name"), Some(1), USER_NAME_MAX);
            string(prop(d, schema, "email"), None, EMAIL_MAX);
            string(prop(d, schema, "gender"), None, GENDER_MAX);
            string(prop(d, schema, "place"), None, PLACE_MAX);
        }
        string(prop(d, "RoleCreateRequest", "description"), None, ROLE_DESCRIPTION_MAX);
        string(prop(d, "RoleUpdateRequest", "description"), None, ROLE_DESCRIPTION_MAX);
        range(param(d, "get", "/api/v1/users/", "limit"), 1.0, PAGE_MAX as f64);

        // Categories.
        for schema in ["CategoryCreate", "CategoryUpdate"] {
            string(prop(d, schema, "name"), Some(1), CATEGORY_NAME_MAX);
            string(prop(d, schema, "title"), Some(1), CATEGORY_TITLE_MAX);
            string(prop(d, schema, "description"), None, CATEGORY_DESCRIPTION_MAX);
        }

        // Records: bodies and forms.
        for schema in ["RecordCreate", "RecordUpdate", "UploadRequest"] {
            string(prop(d, schema, "title"), Some(1), RECORD_TITLE_MAX);
            string(prop(d, schema, "description"), None, RECORD_DESCRIPTION_MAX);
            string(prop(d, schema, "language"), Some(1), RECORD_TAG_MAX);
            string(prop(d, schema, "release_rights"), Some(1), RECORD_TAG_MAX);
        }
        for schema in ["Location", "RecordCreate", "RecordUpdate", "UploadRequest"] {
            range(prop(d, schema, "latitude"), -LATITUDE_MAX, LATITUDE_MAX);
            range(prop(d, schema, "longitude"), -LONGITUDE_MAX, LONGITUDE_MAX);
        }
        string(prop(d, "RecordUpdate", "status"), Some(1), RECORD_STATUS_MAX);
        string(prop(d, "ReviewRequest", "note"), None, REVIEW_NOTE_MAX);
        for schema in ["UploadRequest", "ChunkRequest"] {
            string(prop(d, schema, "filename"), Some(1), FILE_NAME_MAX);
            range(prop(d, schema, "total_chunks"), 1.0, TOTAL_CHUNKS_MAX as f64);
        }

        // Records: queries.
        range(param(d, "post", "/api/v1/records/", "file_size_kb"), 1.0, SAMPLE_FILE_KB_MAX as f64);
        let (nearby, bbox, distance) =
            ("/api/v1/records/search/nearby", "/api/v1/records/search/bbox", "/api/v1/records/search/distance");
        for path in ["/api/v1/records/", nearby, bbox] {
            range(param(d, "get", path, "limit"), 1.0, PAGE_MAX as f64);
        }
        range(param(d, "get", distance, "limit"), 1.0, DISTANCE_PAGE_MAX as f64);
        for path in [nearby, distance] {
            range(param(d, "get", path, "latitude"), -LATITUDE_MAX, LATITUDE_MAX);
            range(param(d, "get", path, "longitude"), -LONGITUDE_MAX, LONGITUDE_MAX);
        }
        for name in ["min_lat", "max_lat"] {
            range(param(d, "get", bbox, name), -LATITUDE_MAX, LATITUDE_MAX);
        }
        for name in ["min_lng", "max_lng"] {
            range(param(d, "get", bbox, name), -LONGITUDE_MAX, LONGITUDE_MAX);
        }
        keyword(param(d, "get", nearby, "distance_meters"), "maximum", NEARBY_RADIUS_MAX_M);
        keyword(param(d, "get", nearby, "radius"), "maximum", NEARBY_RADIUS_MAX_M);
        keyword(param(d, "get", distance, "max_distance_meters"), "maximum", DISTANCE_MAX_M);
        let record_url = "/api/v1/records/{record_id}/record-url";
        range(param(d, "get", record_url, "expires_minutes"), 1.0, RECORD_URL_MINUTES_MAX as f64);
        let queue = "/api/v1/records/review/queue";
        range(param(d, "get", queue, "limit"), 1.0, QUEUE_BATCH_MAX as f64);
        range(param(d, "get", queue, "lease_seconds"), LEASE_MIN_SECONDS as f64, LEASE_MAX_SECONDS as f64);
    }
}
