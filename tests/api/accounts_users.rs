//! Users, roles and contributions.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, accounts::TestUser, send};

fn signup_body(phone: &str) -> Value {
    json!({
        "phone": phone, "name": "Sita", "email": "Sita.Devi@Example.ORG", "gender": "female",
        "date_of_birth": "1990-05-17", "place": "Hyderabad", "password": "secret-pass",
        "has_given_consent": true
    })
}

#[tokio::test]
async fn public_sign_up_always_gets_role_user_and_normalises_the_phone() {
    let app = TestApp::spawn().await;
    let mut body = signup_body("90000 12345");
    body["role_ids"] = json!([1, 3]);
    let (status, user) = send(app.post("/api/v1/users/").json(&body)).await;
    assert_eq!(status, 201, "{user}");
    assert_eq!(user["phone"], "+919000012345");
    assert_eq!(user["email"], "Sita.Devi@example.org");
    assert_eq!(user["date_of_birth"], "1990-05-17");
    assert_eq!(user["has_given_consent"], true);
    assert!(user["consent_given_at"].as_str().unwrap().ends_with('Z'));
    assert!(user.get("hashed_password").is_none());
    let roles: Vec<String> = sqlx::query_scalar(
        "SELECT r.name::text FROM user_roles ur JOIN role r ON r.id = ur.role_id WHERE ur.user_id = $1::uuid",
    )
    .bind(user["id"].as_str().unwrap())
    .fetch_all(app.pool())
    .await
    .unwrap();
    assert_eq!(roles, ["user"], "self-registration as admin is impossible");

    // A stale or foreign token does not change anything either.
    let contributor = app.contributor().await;
    let mut body = signup_body("9000012346");
    body["email"] = json!("other@example.org");
    body["role_ids"] = json!([1]);
    let (status, user) =
        send(app.post("/api/v1/users").header("authorization", contributor.bearer()).json(&body)).await;
    assert_eq!(status, 201, "{user}");
    let (status, roles) =
        send(app.get("/api/v1/auth/me").bearer_auth(login(&app, "9000012346", "secret-pass").await)).await;
    assert_eq!(status, 200);
    assert_eq!(
        roles["roles"],
        json!([{"name": "user", "description": "Standard user role with basic access", "id": 2}])
    );
}

async fn login(app: &TestApp, phone: &str, password: &str) -> String {
    let (status, body) =
        send(app.post("/api/v1/auth/login").json(&json!({"phone": phone, "password": password}))).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn sign_up_refuses_missing_consent_duplicates_and_bad_input() {
    let app = TestApp::spawn().await;
    let mut body = signup_body("9000022222");
    body["has_given_consent"] = json!(false);
    let (status, answer) = send(app.post("/api/v1/users/").json(&body)).await;
    assert_eq!((status, answer), (400, json!({"detail": "User consent is required to create an account"})));
    let (status, _) = send(app.post("/api/v1/users/").json(&signup_body("9000022222"))).await;
    assert_eq!(status, 201);
    let (status, answer) = send(app.post("/api/v1/users/").json(&signup_body("+91 9000022222"))).await;
    assert_eq!((status, answer), (409, json!({"detail": "Phone '+919000022222' already exists"})));
    let (status, answer) = send(app.post("/api/v1/users/").json(&signup_body("9000022223"))).await;
    assert_eq!((status, answer), (409, json!({"detail": "Email 'Sita.Devi@example.org' already exists"})));
    let mut body = signup_body("12345");
    body["email"] = json!("not-an-email");
    body.as_object_mut().unwrap().remove("has_given_consent");
    let (status, answer) = send(app.post("/api/v1/users/").json(&body)).await;
    assert_eq!(status, 422, "{answer}");
    let locs: Vec<Value> = answer["errors"].as_array().unwrap().iter().map(|e| e["loc"].clone()).collect();
    assert!(locs.contains(&json!(["body", "has_given_consent"])), "{answer}");
    let (status, answer) = send(
        app.post("/api/v1/users/")
            .json(&json!({"phone": "12345", "name": "A", "password": "secret-pass", "has_given_consent": true})),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(answer["errors"][0]["loc"], json!(["body", "phone"]));
    assert_eq!(answer["errors"][0]["type"], "value_error");
    let (status, _) =
        send(app.post("/api/v1/users/").header("content-type", "application/x-www-form-urlencoded").body("phone=1"))
            .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn an_admin_creates_users_with_chosen_roles_deduplicated() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let mut body = signup_body("9000033333");
    body["role_ids"] = json!([3, 3, 1]);
    let (status, user) = send(app.post("/api/v1/users/").header("authorization", admin.bearer()).json(&body)).await;
    assert_eq!(status, 201, "{user}");
    let id = user["id"].as_str().unwrap();
    let (status, roles) =
        send(app.get(&format!("/api/v1/users/{id}/roles")).header("authorization", admin.bearer())).await;
    assert_eq!(status, 200);
    assert_eq!(roles.as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect::<Vec<_>>(), [1, 3]);
    body["phone"] = json!("9000033334");
    body["email"] = json!(null);
    body["role_ids"] = json!([9]);
    let (status, answer) = send(app.post("/api/v1/users/").header("authorization", admin.bearer()).json(&body)).await;
    assert_eq!((status, answer), (400, json!({"detail": "Role with id 9 not found"})));
}

#[tokio::test]
async fn admins_list_users_with_pagination_and_a_phone_filter() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let a = app.contributor().await;
    let _b = app.reviewer().await;
    let auth = admin.bearer();
    let (status, all) = send(app.get("/api/v1/users/").header("authorization", &auth)).await;
    assert_eq!(status, 200);
    assert_eq!(all.as_array().unwrap().len(), 3);
    let (_, page) = send(app.get("/api/v1/users?skip=1&limit=1").header("authorization", &auth)).await;
    assert_eq!(page.as_array().unwrap().len(), 1);
    assert_eq!(page[0]["id"], all[1]["id"]);
    let national = a.phone.strip_prefix("+91").unwrap();
    let (status, found) =
        send(app.get(&format!("/api/v1/users/?phone={national}")).header("authorization", &auth)).await;
    assert_eq!(status, 200);
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["id"], a.id.to_string());
    let (_, found) = send(app.get("/api/v1/users/?phone=%2B919999999999").header("authorization", &auth)).await;
    assert_eq!(found, json!([]));
    let (status, answer) = send(app.get("/api/v1/users/?limit=1001").header("authorization", &auth)).await;
    assert_eq!(status, 422);
    assert_eq!(answer["errors"][0]["loc"], json!(["query", "limit"]));
    let (status, answer) = send(app.get("/api/v1/users/").header("authorization", a.bearer())).await;
    assert_eq!(status, 403);
    assert_eq!(answer["detail"], "Access denied. Required roles: admin. Your roles: ['user']");
}

#[tokio::test]
async fn reading_users_by_id_phone_and_with_roles() {
    let app = TestApp::spawn().await;
    let reviewer = app.reviewer().await;
    let user = app.contributor().await;
    let auth = reviewer.bearer();
    let (status, got) = send(app.get(&format!("/api/v1/users/{}", user.id)).header("authorization", &auth)).await;
    assert_eq!(status, 200);
    assert_eq!(got["phone"], user.phone);
    let (status, got) =
        send(app.get(&format!("/api/v1/users/{}/with-roles", user.id)).header("authorization", &auth)).await;
    assert_eq!(status, 200);
    assert_eq!(got["roles"][0]["name"], "user");
    let encoded = user.phone.replace('+', "%2B");
    let (status, got) = send(app.get(&format!("/api/v1/users/phone/{encoded}")).header("authorization", &auth)).await;
    assert_eq!((status, got["id"].clone()), (200, json!(user.id.to_string())));
    let (status, got) =
        send(app.get(&format!("/api/v1/users/phone/{}", user.phone)).header("authorization", &auth)).await;
    assert_eq!((status, got["id"].clone()), (200, json!(user.id.to_string())));
    let missing = Uuid::new_v4();
    let (status, got) = send(app.get(&format!("/api/v1/users/{missing}")).header("authorization", &auth)).await;
    assert_eq!((status, got), (404, json!({"detail": format!("User with id {missing} not found")})));
    let (status, got) = send(app.get("/api/v1/users/phone/5550000").header("authorization", &auth)).await;
    assert_eq!((status, got), (404, json!({"detail": "User with phone 5550000 not found"})));
    let (status, got) = send(app.get("/api/v1/users/not-a-uuid").header("authorization", &auth)).await;
    assert_eq!(status, 422);
    assert_eq!(got["errors"][0]["type"], "uuid_parsing");
    let (status, _) = send(app.get("/api/v1/users/not-a-uuid")).await;
    assert_eq!(status, 403, "authentication is checked before the path");
}

#[tokio::test]
async fn put_and_patch_update_what_the_caller_may_change() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user = app.contributor().await;
    let other = app.contributor().await;
    let path = format!("/api/v1/users/{}", user.id);
    let (_, before) = send(app.get(&path).header("authorization", admin.bearer())).await;

    let (status, got) = send(
        app.put(&path)
            .header("authorization", admin.bearer())
            .json(&json!({"name": "Renamed", "place": null, "has_given_consent": false})),
    )
    .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["name"], "Renamed");
    assert_eq!(got["place"], Value::Null);
    assert_eq!(got["consent_given_at"], Value::Null);
    assert_ne!(got["updated_at"], before["updated_at"], "updated_at is maintained");
    let (status, got) = send(app.put(&path).header("authorization", admin.bearer()).json(&json!({"name": null}))).await;
    assert_eq!(status, 422, "{got}");
    assert_eq!(got["errors"][0]["loc"], json!(["body", "name"]));
    let (status, _) =
        send(app.put(&path).header("authorization", admin.bearer()).json(&json!({"email": "taken@example.org"}))).await;
    assert_eq!(status, 200);
    let (status, got) = send(
        app.put(&format!("/api/v1/users/{}", other.id))
            .header("authorization", admin.bearer())
            .json(&json!({"email": "taken@example.org"})),
    )
    .await;
    assert_eq!((status, got), (409, json!({"detail": "Email 'taken@example.org' already exists"})));
    let (status, got) =
        send(app.put(&path).header("authorization", user.bearer()).json(&json!({"name": "Self"}))).await;
    assert_eq!(status, 403);
    assert_eq!(got["detail"], "Access denied. Required permission: users:PUT. Your roles: ['user']");

    // The official app reports its logins with PATCH; a user edits their own profile.
    let (status, got) = send(
        app.patch(&path)
            .header("authorization", user.bearer())
            .json(&json!({"last_login_at": "2026-01-02T03:04:05+05:30", "name": "Mine", "has_given_consent": true})),
    )
    .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["last_login_at"], "2026-01-01T21:34:05.000000Z");
    assert_eq!(got["name"], "Mine");
    assert!(got["consent_given_at"].is_string());
    let (status, _) =
        send(app.patch(&path).header("authorization", user.bearer()).json(&json!({"is_active": false}))).await;
    assert_eq!(status, 403, "only admins (de)activate accounts");
    let (status, _) =
        send(app.patch(&path).header("authorization", other.bearer()).json(&json!({"name": "Hijack"}))).await;
    assert_eq!(status, 403);

    // Deactivation locks the user out at once.
    let (status, got) =
        send(app.patch(&path).header("authorization", admin.bearer()).json(&json!({"is_active": false}))).await;
    assert_eq!((status, got["is_active"].clone()), (200, json!(false)));
    let (status, _) = send(app.get("/api/v1/auth/me").header("authorization", user.bearer())).await;
    assert_eq!(status, 401);
}

async fn add_record(app: &TestApp, user: Uuid, media: &str, size: Option<i64>, duration: Option<i32>) -> Uuid {
    let category: Uuid = sqlx::query_scalar(
        "INSERT INTO category (name, title, published) VALUES ('cat-' || gen_random_uuid(), 'Cat', true) RETURNING id",
    )
    .fetch_one(app.pool())
    .await
    .unwrap();
    sqlx::query_scalar(
        "INSERT INTO record (user_id, category_id, title, media_type, file_size, duration_seconds) \
         VALUES ($1, $2, 'A record', $3::mediatype, $4, $5) RETURNING uid",
    )
    .bind(user)
    .bind(category)
    .bind(media)
    .bind(size)
    .bind(duration)
    .fetch_one(app.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn deleting_a_user_with_records_is_refused_and_role_links_go_with_a_user() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let with_records = app.contributor().await;
    let without = app.contributor().await;
    add_record(&app, with_records.id, "text", None, None).await;
    let (status, got) =
        send(app.delete(&format!("/api/v1/users/{}", with_records.id)).header("authorization", admin.bearer())).await;
    assert_eq!(status, 409, "{got}");
    assert!(got["detail"].as_str().unwrap().contains("deactivate"));
    let (status, got) =
        send(app.delete(&format!("/api/v1/users/{}", without.id)).header("authorization", admin.bearer())).await;
    assert_eq!(status, 200, "{got}");
    assert!(got["message"].as_str().unwrap().ends_with("deleted successfully"));
    let links: i64 = sqlx::query_scalar("SELECT count(*) FROM user_roles WHERE user_id = $1")
        .bind(without.id)
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(links, 0);
    let (status, _) =
        send(app.delete(&format!("/api/v1/users/{}", without.id)).header("authorization", admin.bearer())).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn role_assignment_replaces_adds_removes_and_takes_effect_on_the_next_request() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user: TestUser = app.create_user(&[]).await;
    let base = format!("/api/v1/users/{}/roles", user.id);
    let (status, _) = send(app.get("/api/v1/users/").header("authorization", user.bearer())).await;
    assert_eq!(status, 403);
    let (status, roles) = send(app.post(&base).header("authorization", admin.bearer()).json(&json!([3, 1, 3]))).await;
    assert_eq!(status, 200, "{roles}");
    assert_eq!(roles.as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect::<Vec<_>>(), [1, 3]);
    let (status, _) = send(app.get("/api/v1/users/").header("authorization", user.bearer())).await;
    assert_eq!(status, 200, "the new role applies at once");
    let (status, roles) = send(app.delete(&format!("{base}/1")).header("authorization", admin.bearer())).await;
    assert_eq!((status, roles.as_array().unwrap().len()), (200, 1));
    let (status, _) = send(app.get("/api/v1/users/").header("authorization", user.bearer())).await;
    assert_eq!(status, 403, "the removal applies at once");
    let (status, roles) = send(app.put(&format!("{base}/add?role_id=2")).header("authorization", admin.bearer())).await;
    assert_eq!(status, 200);
    assert_eq!(
        roles.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect::<Vec<_>>(),
        ["user", "reviewer"]
    );
    let (status, got) = send(app.put(&format!("{base}/add?role_id=77")).header("authorization", admin.bearer())).await;
    assert_eq!((status, got), (400, json!({"detail": "Role with id 77 not found"})));
    let (status, got) = send(app.put(&format!("{base}/add")).header("authorization", admin.bearer())).await;
    assert_eq!(status, 422, "{got}");
    let (status, got) =
        send(app.post(&base).header("authorization", admin.bearer()).json(&json!({"role_ids": [1]}))).await;
    assert_eq!(status, 422, "{got}");
    let (status, got) = send(app.delete(&format!("{base}/77")).header("authorization", admin.bearer())).await;
    assert_eq!((status, got), (400, json!({"detail": "Role with id 77 not found"})));
    let (status, _) = send(app.post(&base).header("authorization", user.bearer()).json(&json!([1]))).await;
    assert_eq!(status, 403, "nobody grants themself a role");
}

#[tokio::test]
async fn roles_are_listed_created_updated_and_deleted_only_when_unused() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let auth = admin.bearer();
    let (status, roles) = send(app.get("/api/v1/roles/").header("authorization", &auth)).await;
    assert_eq!(status, 200);
    assert_eq!(roles[0], json!({"name": "admin", "description": "Administrator role with full access", "id": 1}));
    let (status, got) = send(app.get("/api/v1/roles/9").header("authorization", &auth)).await;
    assert_eq!((status, got), (404, json!({"detail": "Role with id 9 not found"})));
    let (status, got) = send(app.get("/api/v1/roles/x").header("authorization", &auth)).await;
    assert_eq!(status, 422);
    assert_eq!(got["errors"][0]["type"], "int_parsing");
    let (status, got) =
        send(app.post("/api/v1/roles").header("authorization", &auth).json(&json!({"name": "user"}))).await;
    assert_eq!((status, got), (409, json!({"detail": "Role 'user' already exists"})));
    let (status, got) =
        send(app.post("/api/v1/roles").header("authorization", &auth).json(&json!({"name": "owner"}))).await;
    assert_eq!(status, 422);
    assert_eq!(got["errors"][0]["type"], "enum");
    let (status, got) = send(app.delete("/api/v1/roles/1").header("authorization", &auth)).await;
    assert_eq!(status, 409, "{got}");
    let (status, got) = send(app.delete("/api/v1/roles/3").header("authorization", &auth)).await;
    assert_eq!((status, got), (200, json!({"message": "Role reviewer deleted successfully"})));
    let (status, got) = send(
        app.post("/api/v1/roles/")
            .header("authorization", &auth)
            .json(&json!({"name": "reviewer", "description": "Checks"})),
    )
    .await;
    assert_eq!(status, 201, "{got}");
    let id = got["id"].as_i64().unwrap();
    let (status, got) = send(
        app.put(&format!("/api/v1/roles/{id}"))
            .header("authorization", &auth)
            .json(&json!({"description": "Checks submissions"})),
    )
    .await;
    assert_eq!((status, got["description"].clone()), (200, json!("Checks submissions")));
}

#[tokio::test]
async fn contributions_are_summed_in_sql_for_the_user_and_for_staff() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    let admin = app.admin().await;
    let reviewer = app.reviewer().await;
    let stranger = app.contributor().await;
    add_record(&app, user.id, "audio", Some(1000), Some(30)).await;
    add_record(&app, user.id, "audio", None, None).await;
    add_record(&app, user.id, "video", Some(5_000_000_000), Some(12)).await;
    add_record(&app, user.id, "text", Some(10), None).await;
    add_record(&app, stranger.id, "image", Some(10), None).await;
    let path = format!("/api/v1/users/{}/contributions", user.id);
    for caller in [&user, &admin, &reviewer] {
        let (status, got) = send(app.get(&path).header("authorization", caller.bearer())).await;
        assert_eq!(status, 200, "{got}");
        assert_eq!(got["total_contributions"], 4);
        assert_eq!(
            got["contributions_by_media_type"],
            json!({"text": 1, "audio": 2, "image": 0, "video": 1, "document": 0})
        );
        assert_eq!(got["audio_duration"], 30);
        assert_eq!(got["video_duration"], 12);
        assert_eq!(got["image_contributions"], Value::Null);
        assert_eq!(got["audio_contributions"].as_array().unwrap().len(), 2);
        assert_eq!(got["video_contributions"][0]["size"], 5_000_000_000i64);
        assert_eq!(got["audio_contributions"][1]["size"], 0);
    }
    let (status, got) = send(app.get(&format!("{path}/audio")).header("authorization", user.bearer())).await;
    assert_eq!(status, 200);
    assert_eq!(got["total_contributions"], 2);
    let (_, got) = send(app.get(&format!("{path}/image")).header("authorization", user.bearer())).await;
    assert_eq!((got["total_contributions"].clone(), got["contributions"].clone()), (json!(0), Value::Null));
    let (status, got) = send(app.get(&format!("{path}/sound")).header("authorization", user.bearer())).await;
    assert_eq!(status, 422);
    assert_eq!(got["errors"][0]["ctx"]["expected"], "'text', 'audio', 'video', 'image' or 'document'");
    let (status, got) = send(app.get(&path).header("authorization", stranger.bearer())).await;
    assert_eq!(status, 403);
    assert_eq!(got["detail"], "Access denied. Required permission: users:GET. Your roles: ['user']");
    let missing = format!("/api/v1/users/{}/contributions", Uuid::new_v4());
    let (status, _) = send(app.get(&missing).header("authorization", stranger.bearer())).await;
    assert_eq!(status, 403, "no existence leak to unprivileged callers");
    let (status, _) = send(app.get(&missing).header("authorization", admin.bearer())).await;
    assert_eq!(status, 404);
}
