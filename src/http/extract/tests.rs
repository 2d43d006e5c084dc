//! Unit tests of the extractors' parsers and error shapes.

use super::*;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Point {
    #[allow(dead_code)]
    latitude: f64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Media {
    Text,
    Audio,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Body {
    phone: String,
    location: Option<Point>,
    media: Option<Media>,
    limit: Option<u32>,
}

fn err_of(value: Value) -> FieldError {
    match from_value::<Body>("body", value).unwrap_err() {
        AppError::Validation(mut errors) => errors.remove(0),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn missing_field_is_reported_at_its_location() {
    let e = err_of(json!({}));
    assert_eq!(e.kind, "missing");
    assert_eq!(e.loc, vec![json!("body"), json!("phone")]);
}

#[test]
fn nested_type_errors_carry_the_full_path() {
    let e = err_of(json!({"phone": "1", "location": {"latitude": "x"}}));
    assert_eq!(e.kind, "float_parsing");
    assert_eq!(e.loc, vec![json!("body"), json!("location"), json!("latitude")]);
    assert_eq!(e.input, Some(json!("x")));
}

#[test]
fn bad_enum_lists_the_expected_values() {
    let e = err_of(json!({"phone": "1", "media": "gif"}));
    assert_eq!(e.kind, "enum");
    assert_eq!(e.msg, "Input should be 'text' or 'audio'");
}

impl Validate for Body {
    fn validate(&self, _v: &mut Validator) {}
}

#[test]
fn non_object_body_is_model_attributes_type() {
    let AppError::Validation(errors) = check_body_shape::<Body>(&json!([1])).unwrap_err() else { panic!() };
    let e = errors[0].clone();
    assert_eq!(e.kind, "model_attributes_type");
    assert_eq!(e.loc, vec![json!("body")]);
}

#[test]
fn broken_json_reports_its_offset() {
    let AppError::Validation(errors) = parse_json_body(b"{\"a\": }").unwrap_err() else { panic!() };
    assert_eq!(errors[0].kind, "json_invalid");
    assert_eq!(errors[0].loc[0], json!("body"));
}

#[test]
fn query_integers_are_parsed_and_reported() {
    let AppError::Validation(errors) = parse_urlencoded::<Body>("query", b"phone=1&limit=abc").unwrap_err() else {
        panic!()
    };
    assert_eq!(errors[0].kind, "int_parsing");
    assert_eq!(errors[0].loc, vec![json!("query"), json!("limit")]);
    let ok: Body = parse_urlencoded("query", b"phone=%2B91&limit=5&media=").unwrap();
    assert_eq!(ok.phone, "+91");
    assert!(ok.media.is_none());
}

#[test]
fn string_lengths_count_characters() {
    let mut v = Validator::new("body");
    v.str_len("name", "తెలుగు", 1, 6);
    v.str_len("phone", "", 1, 20);
    let AppError::Validation(errors) = v.finish().unwrap_err() else { panic!() };
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].msg, "String should have at least 1 character");
}

#[tokio::test]
async fn a_malformed_uuid_path_parameter_is_a_422_naming_it() {
    use axum::{Router, body::Body, http::Request as HttpRequest, routing::get};
    use tower::ServiceExt;

    async fn handler(ValidPath(id): ValidPath<uuid::Uuid>) -> String {
        id.to_string()
    }
    let app: Router = Router::new().route("/things/{thing_id}", get(handler));
    let response =
        app.clone().oneshot(HttpRequest::get("/things/not-a-uuid").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), 422);
    let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["errors"][0]["type"], "uuid_parsing");
    assert_eq!(body["errors"][0]["loc"], json!(["path", "thing_id"]));
    assert_eq!(body["errors"][0]["input"], "not-a-uuid");
    let ok = app
        .oneshot(HttpRequest::get("/things/6f1c1a3e-0000-4000-8000-000000000000").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[test]
fn echoed_inputs_are_short_prefixes() {
    let long = "అ".repeat(10_000);
    let mut v = Validator::new("body");
    v.str_len("title", &long, 1, 200);
    let AppError::Validation(errors) = v.finish().unwrap_err() else { panic!() };
    let echoed = errors[0].input.as_ref().unwrap().as_str().unwrap();
    assert_eq!(echoed.chars().count(), ECHO_CHARS + 1);
    assert!(echoed.ends_with('…'));
    assert_eq!(short_input(json!("short")), json!("short"));
    let wide = Value::Array((0..1000).map(|i| json!({ "k": i, "deep": [[[["x"]]]] })).collect());
    let cut = short_input(wide);
    assert_eq!(cut.as_array().unwrap().len(), ECHO_ITEMS);
    assert_eq!(cut[0]["deep"][0], json!("…"));
    // A form missing a field echoes only the start of the form.
    let pairs: Vec<(String, String)> = (0..500).map(|i| (format!("f{i}"), "x".repeat(4096))).collect();
    let AppError::Validation(errors) = parse_pairs::<Body>("body", pairs).unwrap_err() else { panic!() };
    assert_eq!(errors[0].kind, "missing");
    assert!(serde_json::to_string(&errors).unwrap().len() < 4096);
}

#[test]
fn nul_characters_are_refused_where_they_are() {
    let value = json!({"title": "ok", "metadata": {"tags": ["a", "b\u{0}c"]}});
    assert_eq!(nul_location(&value), Some(vec![json!("metadata"), json!("tags"), json!(1)]));
    assert_eq!(nul_location(&json!({"a": "clean", "b": [1, 2]})), None);
    let AppError::Validation(errors) = refuse_nul("body", &value).unwrap_err() else { panic!() };
    assert_eq!(errors[0].kind, "string_nul");
    assert_eq!(errors[0].loc, vec![json!("body"), json!("metadata"), json!("tags"), json!(1)]);
    let AppError::Validation(errors) = parse_urlencoded::<Body>("query", b"phone=a%00b").unwrap_err() else { panic!() };
    assert_eq!(errors[0].loc, vec![json!("query"), json!("phone")]);
}
