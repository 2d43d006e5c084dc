//! The RBAC matrix: every row of `corpus_te::auth::policy::RULES` called as every kind of caller.

use corpus_te::auth::policy::{Caller, RULES, Rule};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    TestApp,
    accounts::{PASSWORD, TestUser},
    send,
    sms::FakeSms,
};

fn fresh_phone() -> String {
    format!("+916{:09}", rand::random::<u32>() % 1_000_000_000)
}

/// A request that succeeds (or fails only for business reasons) when the caller may call `rule`.
fn sample(rule: &Rule, target: &TestUser, user_id: Uuid) -> (String, Option<Value>) {
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
        ("POST", "/api/v1/auth/signup/send-otp") => Some(json!({"phone_number": fresh_phone()})),
        ("POST", "/api/v1/auth/signup/verify-otp") => {
            Some(json!({"phone_number": fresh_phone(), "otp_code": "000000", "name": "N", "has_given_consent": true}))
        }
        ("POST", "/api/v1/auth/forgot-password/verify") => {
            Some(json!({"phone_number": phone, "otp_code": "000000", "new_password": "matrix-new-1"}))
        }
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
        _ => None,
    };
    (path, body)
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

#[tokio::test]
async fn every_accounts_endpoint_answers_each_kind_of_caller_as_the_policy_table_says() {
    let sms = FakeSms::start().await;
    let app = TestApp::spawn_with(|c| {
        sms.configure_ozonetel(c);
        c.otp.otp_rate_limit_minutes = 0;
        c.otp.otp_ip_limit_per_hour = 100_000;
    })
    .await;
    let mut failures = Vec::new();
    let mut calls = 0;
    for rule in RULES {
        for caller in Caller::ALL {
            if caller == Caller::Owner && !rule.has_owner() {
                continue;
            }
            // Fresh accounts for every call: some calls delete, deactivate or revoke.
            let target = app.create_user(&["user"]).await;
            let me = match caller {
                Caller::Anonymous => None,
                Caller::NoRole | Caller::Owner => Some(app.create_user(&[]).await),
                Caller::User => Some(app.create_user(&["user"]).await),
                Caller::Reviewer => Some(app.create_user(&["reviewer"]).await),
                Caller::Admin => Some(app.create_user(&["admin"]).await),
            };
            let user_id = match (&me, caller) {
                (Some(me), Caller::Owner) => me.id,
                _ => target.id,
            };
            let (path, body) = sample(rule, &target, user_id);
            let mut request = app.request(Method::from_bytes(rule.method.as_bytes()).unwrap(), &path);
            if let Some(me) = &me {
                request = request.bearer_auth(&me.token);
            }
            if let Some(body) = body {
                request = request.json(&body);
            }
            let (status, answer) = send(request).await;
            calls += 1;
            if std::env::var_os("MATRIX_SHOW").is_some() {
                eprintln!("{:6} {:55} {:9} -> {status}", rule.method, rule.path, label(caller));
            }
            let detail = answer["detail"].as_str().unwrap_or_default();
            let ok = if rule.allows(caller) {
                status < 500 && status != 401 && status != 403
            } else if caller == Caller::Anonymous {
                status == 403 && detail == "Not authenticated"
            } else {
                status == 403 && detail.starts_with("Access denied. Required ")
            };
            if !ok || status >= 500 {
                failures.push(format!(
                    "{} {} as {}: expected {}, got {status} {answer}",
                    rule.method,
                    rule.path,
                    label(caller),
                    if rule.allows(caller) { "allowed" } else { "403" }
                ));
            }
        }
    }
    assert!(calls > 150, "{calls} calls");
    assert!(failures.is_empty(), "{} of {calls} calls broke the table:\n{}", failures.len(), failures.join("\n"));
}

#[tokio::test]
async fn the_policy_table_and_the_openapi_document_list_the_same_endpoints() {
    let app = TestApp::spawn().await;
    let (status, doc) = send(app.get("/api/v1/openapi.json")).await;
    assert_eq!(status, 200);
    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !["/api/v1/auth/", "/api/v1/users", "/api/v1/roles"].iter().any(|p| path.starts_with(p)) {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            documented.push(format!("{} {path}", method.to_uppercase()));
            let op = &item[method];
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path} has responses");
        }
    }
    documented.sort();
    let mut table: Vec<String> = RULES.iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    table.sort();
    assert_eq!(documented, table);
}
