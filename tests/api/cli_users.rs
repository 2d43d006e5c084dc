//! `corpus users ...`, black-box, on a fresh initialised database.

use crate::helpers::{TestDb, cli::run};

struct Env {
    db: TestDb,
    dir: tempfile::TempDir,
}

impl Env {
    async fn new() -> Self {
        Self { db: TestDb::new().await, dir: tempfile::tempdir().unwrap() }
    }

    fn run(&self, args: &[&str]) -> crate::helpers::cli::Run {
        run(&self.db.url, self.dir.path(), args)
    }

    async fn roles_of(&self, phone: &str) -> Vec<String> {
        sqlx::query_scalar(
            r#"SELECT r.name::text FROM "user" u JOIN user_roles ur ON ur.user_id = u.id JOIN role r ON r.id = ur.role_id
               WHERE u.phone = $1 ORDER BY r.id"#,
        )
        .bind(phone)
        .fetch_all(&self.db.pool)
        .await
        .unwrap()
    }
}

#[tokio::test]
async fn create_admin_makes_an_active_admin_that_list_and_find_show() {
    let env = Env::new().await;
    let out = env.run(&[
        "users",
        "create-admin",
        "--phone",
        "90000 12345",
        "--name",
        "First Admin",
        "--password",
        "s3cret-pass",
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(env.roles_of("+919000012345").await, vec!["admin", "user"]);
    let hash: String = sqlx::query_scalar(r#"SELECT hashed_password FROM "user" WHERE phone = '+919000012345'"#)
        .fetch_one(&env.db.pool)
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$"));
    assert!(!out.all().contains("s3cret-pass"), "the password is never printed");

    let list = env.run(&["users", "list"]);
    assert_eq!(list.code, 0);
    assert!(list.stdout.contains("First Admin") && list.stdout.contains("admin, user"), "{}", list.stdout);

    // Found by the raw form and the E.164 form alike.
    for phone in ["9000012345", "+919000012345"] {
        let found = env.run(&["users", "find", "--phone", phone]);
        assert_eq!(found.code, 0, "{}", found.all());
        assert!(found.stdout.contains("First Admin"));
    }
    let missing = env.run(&["users", "find", "--email", "nobody@example.com"]);
    assert_ne!(missing.code, 0);

    let duplicate = env.run(&["users", "create-admin", "--phone", "+919000012345", "--name", "Again"]);
    assert_ne!(duplicate.code, 0, "{}", duplicate.all());
    let bad_phone = env.run(&["users", "create-admin", "--phone", "12", "--name", "X"]);
    assert_ne!(bad_phone.code, 0);
    let short = env.run(&["users", "create-admin", "--phone", "9000099999", "--name", "X", "--password", "abc"]);
    assert_ne!(short.code, 0);
}

#[tokio::test]
async fn assign_replaces_add_adds_and_duplicates_are_ignored() {
    let env = Env::new().await;
    assert_eq!(env.run(&["db", "seed"]).code, 0);
    // The sample user is found by e-mail and by phone.
    let assign = env.run(&["users", "assign-role", "user@example.com", "reviewer"]);
    assert_eq!(assign.code, 0, "{}", assign.all());
    assert_eq!(env.roles_of("3333333333").await, vec!["reviewer"]);

    let add = env.run(&["users", "add-roles", "3333333333", "user", "user", "admin"]);
    assert_eq!(add.code, 0, "{}", add.all());
    assert_eq!(env.roles_of("3333333333").await, vec!["admin", "user", "reviewer"]);

    let again = env.run(&["users", "add-role", "3333333333", "admin"]);
    assert_eq!(again.code, 0);
    assert!(again.stdout.contains("already has"), "{}", again.stdout);

    let replace = env.run(&["users", "assign-roles", "3333333333", "user", "user"]);
    assert_eq!(replace.code, 0, "{}", replace.all());
    assert_eq!(env.roles_of("3333333333").await, vec!["user"]);

    let remove = env.run(&["users", "remove-role", "3333333333", "user"]);
    assert_eq!(remove.code, 0);
    assert!(env.roles_of("3333333333").await.is_empty());

    assert_eq!(env.run(&["users", "add-roles", "3333333333", "user", "reviewer"]).code, 0);
    let clear = env.run(&["users", "clear-roles", "3333333333"]);
    assert_eq!(clear.code, 0);
    assert!(clear.stdout.contains("removed 2 role(s)"), "{}", clear.stdout);
    assert!(env.roles_of("3333333333").await.is_empty());

    // The original's command names still work.
    assert_eq!(env.run(&["users", "assign-multiple-roles", "3333333333", "user", "reviewer"]).code, 0);
    assert_eq!(env.run(&["users", "list-users"]).code, 0);
}

#[tokio::test]
async fn errors_exit_non_zero() {
    let env = Env::new().await;
    let unknown_user = env.run(&["users", "assign-role", "nobody@example.com", "admin"]);
    assert_ne!(unknown_user.code, 0);
    assert!(unknown_user.stderr.contains("user not found"), "{}", unknown_user.all());
    let bad_role = env.run(&["users", "assign-role", "nobody@example.com", "superuser"]);
    assert_ne!(bad_role.code, 0);
    let roles = env.run(&["users", "list-roles"]);
    assert_eq!(roles.code, 0);
    assert!(roles.stdout.contains("reviewer") && roles.stdout.contains("Administrator role with full access"));

    // A role deleted from the table cannot be assigned.
    sqlx::query("DELETE FROM role WHERE name = 'reviewer'").execute(&env.db.pool).await.unwrap();
    assert_eq!(env.run(&["users", "create-admin", "--phone", "9000011111", "--name", "A"]).code, 0);
    let missing_role = env.run(&["users", "add-role", "9000011111", "reviewer"]);
    assert_ne!(missing_role.code, 0, "{}", missing_role.all());
    assert!(missing_role.stderr.contains("not found in the database"), "{}", missing_role.all());
}
