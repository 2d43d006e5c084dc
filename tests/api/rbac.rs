//! The RBAC matrix: every row of `corpus_te::auth::policy::RULES` called as every kind of caller,
//! and the table checked against the routes the router really serves and the OpenAPI document.

use std::collections::BTreeSet;

use corpus_te::auth::{
    links::LinkKey,
    policy::{Caller, RULES, Rule},
};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    helpers::{
        TestApp,
        accounts::{PASSWORD, TestUser},
        send,
        sms::FakeSms,
    },
    records_crud::category,
    records_upload::multipart,
};

fn fresh_phone() -> String {
    format!("+916{:09}", rand::random::<u32>() % 1_000_000_000)
}

fn label(caller: Caller) -> &'static str {
    match caller {
        Caller::Anonymous => "anonymous",
        Caller::NoRole => "no-role",
        Caller::User => "user",
        Caller::Reviewer => "reviewer",
        Caller::Admin => "admin",
        Caller::Owner => "owner",
    }
}

fn is_accounts(rule: &Rule) -> bool {
    ["/api/v1/auth/", "/api/v1/users/", "/api/v1/roles/"].iter().any(|p| rule.path.starts_with(p))
}

fn is_records(rule: &Rule) -> bool {
    rule.path.starts_with("/api/v1/records/")
}

fn is_tasks(rule: &Rule) -> bool {
    rule.path.starts_with("/api/v1/tasks/")
}

/// The roles of the caller (for the owner: of the owner of the resource the path names).
fn roles_of(caller: Caller, rule: &Rule) -> Option<&'static [&'static str]> {
    match caller {
        Caller::Anonymous => None,
        Caller::NoRole => Some(&[]),
        Caller::User => Some(&["user"]),
        Caller::Reviewer => Some(&["reviewer"]),
        Caller::Admin => Some(&["admin"]),
        // An account's owner needs no role to act on it; a record's or an upload's owner is the
        // contributor who made it.
        Caller::Owner if rule.path.contains("{user_id}") => Some(&[]),
        Caller::Owner => Some(&["user"]),
    }
}

/// A request, as (path, JSON body, multipart body).
type Sample = (String, Option<Value>, Option<(String, Vec<u8>)>);

/// A request to an accounts endpoint that succeeds (or fails only for business reasons) when the
/// caller may call `rule`.
fn accounts_sample(rule: &Rule, target: &TestUser, user_id: Uuid) -> Sample {
    let mut path = rule
        .path
        .replace("{user_id}", &user_id.to_string())
        .replace("{phone}", &target.phone.replace('+', "%2B"))
        .replace("{media_type}", "audio");
    path = match (rule.method, rule.path) {
        ("DELETE", "/api/v1/users/{user_id}/roles/{role_id}") => path.replace("{role_id}", "3"),
        _ => path.replace("{role_id}", "2"),
    };
    if path.ends_with("/roles/add") {
        path.push_str("?role_id=3");
    }
    let phone = &target.phone;
    let body = match (rule.method, rule.path) {
        ("POST", "/api/v1/auth/login") => Some(json!({"phone": phone, "password": PASSWORD})),
        ("POST", "/api/v1/auth/change-password") => {
            Some(json!({"current_password": PASSWORD, "new_password": "matrix-new-1"}))
        }
        ("POST", "/api/v1/auth/reset-password") => Some(json!({"phone": phone, "new_password": "matrix-new-1"})),
        ("POST", "/api/v1/auth/signup/send-otp" | "/api/v1/auth/signup/resend-otp") => {
            Some(json!({"phone_number": fresh_phone()}))
        }
        ("POST", "/api/v1/auth/signup/verify-otp") => {
            Some(json!({"phone_number": fresh_phone(), "otp_code": "000000", "name": "N", "has_given_consent": true}))
        }
        ("POST", "/api/v1/auth/forgot-password/verify") => {
            Some(json!({"phone_number": phone, "otp_code": "000000", "new_password": "matrix-new-1"}))
        }
        ("POST", "/api/v1/auth/forgot-password/confirm") => Some(json!({
            "phone_number": phone, "otp_code": "000000", "new_password": "matrix-new-1", "confirm_password": "matrix-new-1"
        })),
        ("POST", p) if p.ends_with("verify-otp") => Some(json!({"phone_number": phone, "otp_code": "000000"})),
        ("POST", p) if p.starts_with("/api/v1/auth/") && p != "/api/v1/auth/refresh" => {
            Some(json!({"phone_number": phone}))
        }
        ("POST", "/api/v1/roles/") => Some(json!({"name": "user"})),
        ("PUT", "/api/v1/roles/{role_id}") => Some(json!({"description": "Standard user role with basic access"})),
        ("POST", "/api/v1/users/") => {
            Some(json!({"phone": fresh_phone(), "name": "New", "password": "matrix-pass", "has_given_consent": true}))
        }
        ("PUT", "/api/v1/users/{user_id}") => Some(json!({"name": "Renamed"})),
        ("PATCH", "/api/v1/users/{user_id}") => Some(json!({"last_login_at": "2026-01-02T03:04:05Z"})),
        ("PATCH", "/api/v1/users/{user_id}/last-login") => Some(json!({"last_login": "2026-01-02T03:04:05.123456"})),
        ("POST", "/api/v1/users/{user_id}/roles") => Some(json!([2, 2])),
        ("PUT", "/api/v1/users/{user_id}/change-password") => Some(json!({
            "current_password": PASSWORD, "new_password": "matrix-new-1", "confirm_password": "matrix-new-1"
        })),
        _ => None,
    };
    (path, body, None)
}

/// A direct upload of a small text file, as multipart (content type, body).
fn text_upload(category_id: Uuid) -> (String, Vec<u8>) {
    let category_id = category_id.to_string();
    multipart(
        &[("title", "కథ"), ("category_id", &category_id), ("media_type", "text")],
        Some(("file", "story.txt", "ఒకప్పుడు ఒక ఊరిలో".as_bytes())),
    )
}

/// The first chunk of two of a new resumable upload, as multipart (content type, body).
fn first_chunk(upload_uuid: Uuid) -> (String, Vec<u8>) {
    let id = upload_uuid.to_string();
    multipart(
        &[("filename", "clip.txt"), ("chunk_index", "0"), ("total_chunks", "2"), ("upload_uuid", &id)],
        Some(("chunk", "blob", b"half of a file")),
    )
}

async fn post_multipart(app: &TestApp, owner: &TestUser, path: &str, (ct, body): (String, Vec<u8>)) -> Value {
    let (status, answer) =
        send(app.post(path).header("Authorization", owner.bearer()).header("Content-Type", ct).body(body)).await;
    assert!(status == 200 || status == 201, "arranging {path}: {status} {answer}");
    answer
}

/// A request to a records, categories or service endpoint that succeeds when the caller may
/// call `rule`; `owner` owns the record or upload the path names.
async fn resource_sample(app: &TestApp, rule: &Rule, owner: &TestUser, published: Uuid) -> Sample {
    let mut path = rule.path.replace("{*rest}", "swagger-ui.css").replace("{category_id}", &published.to_string());
    if rule.path.contains("{record_id}") {
        let record = post_multipart(app, owner, "/api/v1/records/upload", text_upload(published)).await;
        let uid = record["uid"].as_str().unwrap();
        path = path.replace("{record_id}", uid);
        if rule.path.ends_with("/signed-file") {
            // A link as `record-url` makes it: whoever holds it may read the file.
            let expires = chrono::Utc::now().timestamp() + 600;
            let signature = LinkKey::new(&app.config.secret()).sign(uid.parse().unwrap(), expires);
            path = format!("{path}?expires={expires}&signature={signature}");
        }
    }
    if rule.path.contains("{upload_uuid}") {
        let upload_uuid = Uuid::new_v4();
        post_multipart(app, owner, "/api/v1/records/upload/chunk", first_chunk(upload_uuid)).await;
        path = path.replace("{upload_uuid}", &upload_uuid.to_string());
    }
    if matches!(rule.method, "PUT" | "DELETE") && rule.path == "/api/v1/categories/{category_id}" {
        // A category of its own: the call may delete it.
        let own = category(app, &format!("matrix-{}", Uuid::new_v4().simple())).await;
        path = rule.path.replace("{category_id}", &own.to_string());
    }
    let (here, there) = ("latitude=17.385&longitude=78.4867", "min_lat=17.0&max_lat=17.5&min_lng=78.0&max_lng=78.5");
    match rule.path {
        "/api/v1/records/search/nearby" | "/api/v1/records/search/distance" => path = format!("{path}?{here}"),
        "/api/v1/records/search/bbox" => path = format!("{path}?{there}"),
        _ => {}
    }
    let body = match (rule.method, rule.path) {
        ("POST", "/api/v1/records/") => Some(json!({"title": "t", "media_type": "text", "category_id": published})),
        // Status only: reviewers may set it on anyone's record, owners' content edits are
        // covered by the records tests.
        ("PUT" | "PATCH", "/api/v1/records/{record_id}") => Some(json!({"status": "pending"})),
        ("POST", "/api/v1/records/{record_id}/review") => Some(json!({"decision": "approve"})),
        ("POST", "/api/v1/categories/") => {
            Some(json!({"name": format!("matrix-{}", Uuid::new_v4().simple()), "title": "Matrix"}))
        }
        ("PUT", "/api/v1/categories/{category_id}") => Some(json!({"title": "Renamed"})),
        ("POST", "/api/v1/tasks/batch-process" | "/api/v1/tasks/batch-language-detection") => Some(json!([])),
        ("POST", "/api/v1/tasks/export-dataset") => Some(json!({"media_types": ["text"]})),
        _ => None,
    };
    let form = match (rule.method, rule.path) {
        ("POST", "/api/v1/records/upload") => Some(text_upload(published)),
        ("POST", "/api/v1/records/upload/chunk") => Some(first_chunk(Uuid::new_v4())),
        _ => None,
    };
    (path, body, form)
}

/// Calls every rule `select` picks as every kind of caller and checks each answer against the
/// table: allowed callers are served (`strict`: with a success; otherwise never 401, 403 or 5xx),
/// anonymous callers get 403 `Not authenticated`, hidden ones 404, the others 403.
async fn drive_matrix(app: &TestApp, select: impl Fn(&Rule) -> bool, strict: bool) -> usize {
    let published = category(app, "matrix-published").await;
    let mut failures = Vec::new();
    let mut calls = 0;
    for rule in RULES.iter().filter(|r| select(r)) {
        for caller in Caller::ALL {
            if caller == Caller::Owner && !rule.has_owner() {
                continue;
            }
            // Fresh accounts and resources for every call: some calls delete, deactivate or revoke.
            let target = app.create_user(&["user"]).await;
            let me = match roles_of(caller, rule) {
                Some(roles) => Some(app.create_user(roles).await),
                None => None,
            };
            let owner = match (&me, caller) {
                (Some(me), Caller::Owner) => me.clone(),
                _ => target.clone(),
            };
            let (path, body, form) = if is_accounts(rule) {
                accounts_sample(rule, &target, owner.id)
            } else {
                resource_sample(app, rule, &owner, published).await
            };
            let mut request = app.request(Method::from_bytes(rule.method.as_bytes()).unwrap(), &path);
            if let Some(me) = &me {
                request = request.bearer_auth(&me.token);
            }
            if let Some(body) = body {
                request = request.json(&body);
            }
            if let Some((content_type, bytes)) = form {
                request = request.header("Content-Type", content_type).body(bytes);
            }
            let (status, answer) = send(request).await;
            calls += 1;
            if std::env::var_os("MATRIX_SHOW").is_some() {
                eprintln!("{:6} {:55} {:9} -> {status}", rule.method, rule.path, label(caller));
            }
            let detail = answer["detail"].as_str().unwrap_or_default();
            let (expected, ok) = if rule.allows(caller) {
                let ok = if strict { status < 400 } else { status < 500 && status != 401 && status != 403 };
                ("allowed", ok)
            } else if caller == Caller::Anonymous {
                ("403 Not authenticated", status == 403 && detail == "Not authenticated")
            } else if rule.hides_from(caller) {
                ("404", status == 404)
            } else {
                // A role check names the roles; an ownership check on a visible record explains.
                let explained = if rule.hidden.is_empty() {
                    detail.starts_with("Access denied. Required ") || detail == "Admin access required"
                } else {
                    !detail.is_empty() && detail != "Not authenticated"
                };
                ("403", status == 403 && explained)
            };
            if !ok || status >= 500 {
                failures.push(format!(
                    "{} {} as {}: expected {expected}, got {status} {answer}",
                    rule.method,
                    rule.path,
                    label(caller)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {calls} calls broke the table:\n{}", failures.len(), failures.join("\n"));
    calls
}

#[tokio::test]
async fn every_accounts_endpoint_answers_each_kind_of_caller_as_the_policy_table_says() {
    let sms = FakeSms::start().await;
    let app = TestApp::spawn_with(|c| {
        sms.configure_ozonetel(c);
        c.otp.otp_rate_limit_minutes = 0;
        c.otp.otp_ip_limit_per_hour = 100_000;
    })
    .await;
    // Business failures (a wrong code, an existing name) are fine here: only access is checked.
    let calls = drive_matrix(&app, is_accounts, false).await;
    assert!(calls > 150, "{calls} calls");
}

#[tokio::test]
async fn every_records_and_uploads_endpoint_answers_each_kind_of_caller_as_the_policy_table_says() {
    let app = TestApp::spawn().await;
    let calls = drive_matrix(&app, is_records, true).await;
    assert!(calls > 80, "{calls} calls");
}

#[tokio::test]
async fn every_category_service_and_documentation_endpoint_answers_each_kind_of_caller_as_the_policy_table_says() {
    let app = TestApp::spawn().await;
    let calls = drive_matrix(&app, |r| !is_accounts(r) && !is_records(r) && !is_tasks(r), true).await;
    assert!(calls > 60, "{calls} calls");
}

#[tokio::test]
async fn every_tasks_endpoint_answers_each_kind_of_caller_as_the_policy_table_says() {
    let app = TestApp::spawn().await;
    // The original's placeholders answer 400 to those allowed: only access is checked here.
    let calls = drive_matrix(&app, is_tasks, false).await;
    assert!(calls > 90, "{calls} calls");
}

/// `path` with every parameter replaced by a value of the right shape.
fn probe_path(path: &str) -> String {
    let id = Uuid::new_v4().to_string();
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').map(|c| open + c).unwrap();
        out.push_str(&rest[..open]);
        out.push_str(match &rest[open + 1..close] {
            "*rest" => "swagger-ui.css",
            "phone" => "%2B919999999999",
            "media_type" => "audio",
            "role_id" => "999999",
            _ => &id,
        });
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn the_policy_table_lists_exactly_the_routes_the_router_serves_and_the_openapi_document() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let table: BTreeSet<String> = RULES.iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    assert_eq!(table.len(), RULES.len(), "the table has duplicate rows");

    // Everything the OpenAPI document (generated from the handlers) lists is in the table.
    let (status, doc) = send(app.get("/api/v1/openapi.json")).await;
    assert_eq!(status, 200);
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            documented.insert(format!("{} {path}", method.to_uppercase()));
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path} has responses");
        }
    }
    let undocumented_in_table: Vec<_> = documented.difference(&table).collect();
    assert!(undocumented_in_table.is_empty(), "documented but not in the policy table: {undocumented_in_table:?}");

    // What the router serves, asked of the router itself: every method on every known path.
    // A method it does not route answers 405; a path it does not know, the fallback 404.
    let paths: BTreeSet<&str> =
        RULES.iter().map(|r| r.path).chain(documented.iter().map(|d| d.split_once(' ').unwrap().1)).collect();
    let mut served = BTreeSet::new();
    for path in paths {
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let request = app.request(Method::from_bytes(method.as_bytes()).unwrap(), &probe_path(path));
            let (status, answer) = send(request.bearer_auth(&admin.token)).await;
            assert!(status < 500, "{method} {path}: {status} {answer}");
            let unknown_path = status == 404 && answer["detail"] == "Not Found";
            if status != 405 && !unknown_path {
                served.insert(format!("{method} {path}"));
            }
        }
    }
    let missing: Vec<_> = served.difference(&table).collect();
    let stale: Vec<_> = table.difference(&served).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "served but not in the policy table: {missing:?}; in the policy table but not served: {stale:?}"
    );
}
