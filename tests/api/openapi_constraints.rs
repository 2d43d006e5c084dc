//! The OpenAPI document states the validation rules the server enforces (lengths, ranges,
//! formats, defaults), so clients and fuzzers generate the requests the server accepts.

use serde_json::Value;

use crate::helpers::{TestApp, send};

/// Follows a `$ref` to `#/components/schemas/...`; any other schema is returned as is.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("unexpected $ref {r}"));
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// The schema of the JSON request body of `method path`, `$ref`s resolved.
fn body_schema<'a>(doc: &'a Value, path: &str, method: &str) -> &'a Value {
    let schema = &doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "{method} {path} has no JSON body schema");
    resolve(doc, schema)
}

/// A property of an object schema, `$ref`s (and a `null | $ref` choice) resolved.
fn property<'a>(doc: &'a Value, schema: &'a Value, name: &str) -> &'a Value {
    let prop = &schema["properties"][name];
    assert!(prop.is_object(), "no property {name} in {schema}");
    if let Some(choices) = prop["oneOf"].as_array()
        && let Some(non_null) = choices.iter().find(|c| c["type"] != "null")
    {
        return resolve(doc, non_null);
    }
    resolve(doc, prop)
}

/// The schema of query parameter `name` of `method path`.
fn query_param<'a>(doc: &'a Value, path: &str, method: &str, name: &str) -> &'a Value {
    let params = doc["paths"][path][method]["parameters"].as_array().unwrap_or_else(|| panic!("{method} {path}"));
    let param = params
        .iter()
        .find(|p| p["name"] == name && p["in"] == "query")
        .unwrap_or_else(|| panic!("no query parameter {name} on {method} {path}"));
    resolve(doc, &param["schema"])
}

/// Asserts numeric keywords (`minLength`, `maximum`, ...) of a schema, whatever their JSON number kind.
#[track_caller]
fn assert_limits(schema: &Value, expected: &[(&str, f64)]) {
    for (key, want) in expected {
        assert_eq!(schema[*key].as_f64(), Some(*want), "{key} of {schema}");
    }
}

#[tokio::test]
async fn openapi_document_states_the_validation_rules() {
    let app = TestApp::spawn().await;
    let (status, doc) = send(app.get("/api/v1/openapi.json")).await;
    assert_eq!(status, 200);

    // Accounts: login, sign-up, OTP.
    let login = body_schema(&doc, "/api/v1/auth/login", "post");
    assert_limits(property(&doc, login, "phone"), &[("minLength", 1.0), ("maxLength", 20.0)]);
    assert_limits(property(&doc, login, "password"), &[("minLength", 1.0), ("maxLength", 1024.0)]);
    let create_user = body_schema(&doc, "/api/v1/users/", "post");
    assert_limits(property(&doc, create_user, "password"), &[("minLength", 6.0), ("maxLength", 100.0)]);
    assert_limits(property(&doc, create_user, "name"), &[("minLength", 1.0), ("maxLength", 100.0)]);
    assert_eq!(property(&doc, create_user, "email")["format"], "email");
    assert_eq!(property(&doc, create_user, "phone")["example"], "+919000000001");
    let verify = body_schema(&doc, "/api/v1/auth/verify-otp", "post");
    assert_limits(property(&doc, verify, "otp_code"), &[("minLength", 4.0), ("maxLength", 8.0)]);
    assert!(property(&doc, verify, "phone_number")["pattern"].is_string());
    assert_eq!(property(&doc, verify, "has_given_consent")["default"], true);
    // Fields that may be left out but never be null are documented as non-nullable.
    let update_user = body_schema(&doc, "/api/v1/users/{user_id}", "put");
    assert_eq!(property(&doc, update_user, "name")["type"], "string");
    assert_eq!(property(&doc, update_user, "gender")["maxLength"], 20);
    assert!(update_user["required"].as_array().is_none_or(Vec::is_empty), "{update_user}");
    assert_limits(query_param(&doc, "/api/v1/users/", "get", "limit"), &[("minimum", 1.0), ("maximum", 1000.0)]);

    // Categories.
    let category = body_schema(&doc, "/api/v1/categories/", "post");
    assert_limits(property(&doc, category, "title"), &[("minLength", 1.0), ("maxLength", 200.0)]);
    assert_eq!(property(&doc, category, "description")["maxLength"], 500);

    // Records: bodies, the location's range, list and spatial queries.
    let record = body_schema(&doc, "/api/v1/records/", "post");
    assert_limits(property(&doc, record, "title"), &[("minLength", 1.0), ("maxLength", 200.0)]);
    let location = property(&doc, record, "location");
    assert_limits(property(&doc, location, "latitude"), &[("minimum", -90.0), ("maximum", 90.0)]);
    assert_limits(property(&doc, location, "longitude"), &[("minimum", -180.0), ("maximum", 180.0)]);
    assert_limits(property(&doc, record, "latitude"), &[("minimum", -90.0), ("maximum", 90.0)]);
    assert_eq!(property(&doc, body_schema(&doc, "/api/v1/records/{record_id}", "put"), "status")["maxLength"], 20);
    assert_eq!(
        property(&doc, body_schema(&doc, "/api/v1/records/{record_id}/review", "post"), "note")["maxLength"],
        1000
    );
    let list_limit = query_param(&doc, "/api/v1/records/", "get", "limit");
    assert_limits(list_limit, &[("minimum", 1.0), ("maximum", 1000.0), ("default", 100.0)]);
    assert_eq!(query_param(&doc, "/api/v1/records/", "get", "skip")["minimum"], 0);
    assert_eq!(query_param(&doc, "/api/v1/records/", "get", "content_sha256")["pattern"], "^[0-9a-fA-F]{64}$");
    assert_limits(
        query_param(&doc, "/api/v1/records/", "post", "file_size_kb"),
        &[("minimum", 1.0), ("maximum", 1000.0)],
    );
    let nearby = "/api/v1/records/search/nearby";
    assert_limits(query_param(&doc, nearby, "get", "latitude"), &[("minimum", -90.0), ("maximum", 90.0)]);
    assert_limits(
        query_param(&doc, nearby, "get", "distance_meters"),
        &[("exclusiveMinimum", 0.0), ("maximum", 50000.0)],
    );
    assert_eq!(query_param(&doc, "/api/v1/records/search/distance", "get", "limit")["maximum"], 500);
    assert_limits(
        query_param(&doc, "/api/v1/records/review/queue", "get", "lease_seconds"),
        &[("minimum", 30.0), ("maximum", 3600.0)],
    );
}

#[tokio::test]
async fn upload_bodies_are_documented_as_multipart_forms_with_file_parts() {
    let app = TestApp::spawn().await;
    let (_, doc) = send(app.get("/api/v1/openapi.json")).await;
    let multipart = |path: &str| {
        let schema = &doc["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"];
        assert!(schema.is_object(), "POST {path} documents a multipart body");
        resolve(&doc, schema).clone()
    };
    let upload = multipart("/api/v1/records/upload");
    let file = property(&doc, &upload, "file");
    assert_eq!(file["format"], "binary", "{file}");
    assert_limits(property(&doc, &upload, "title"), &[("minLength", 1.0), ("maxLength", 200.0)]);
    assert!(upload["required"].as_array().unwrap().iter().any(|r| r == "media_type"));
    let chunk = multipart("/api/v1/records/upload/chunk");
    assert_eq!(property(&doc, &chunk, "chunk")["format"], "binary");
    let required: Vec<&str> = chunk["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    for field in ["chunk", "chunk_index", "total_chunks", "upload_uuid"] {
        assert!(required.contains(&field), "{field} is required: {required:?}");
    }
}
