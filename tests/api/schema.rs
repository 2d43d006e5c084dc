//! The migrated schema: maintained `updated_at`, 64-bit sizes, named constraints that refuse the
//! original's "poison" rows.

use crate::helpers::TestDb;

#[tokio::test]
async fn updated_at_is_maintained_by_the_database() {
    let db = TestDb::new().await;
    let (id, before): (uuid::Uuid, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as("INSERT INTO category (name, title) VALUES ('c', 'C') RETURNING id, updated_at")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let after: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("UPDATE category SET title = 'C2' WHERE id = $1 RETURNING updated_at")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(after > before, "{before} -> {after}");
}

#[tokio::test]
async fn named_constraints_refuse_invalid_rows_and_sizes_are_64_bit() {
    let db = TestDb::new().await;
    let user: uuid::Uuid =
        sqlx::query_scalar(r#"INSERT INTO "user" (phone, name) VALUES ('+919000000001', 'A') RETURNING id"#)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let category: uuid::Uuid = sqlx::query_scalar("INSERT INTO category (name, title) VALUES ('c', 'C') RETURNING id")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let insert = |title: &'static str, lon: f64, lat: f64, size: i64| {
        sqlx::query(
            "INSERT INTO record (user_id, category_id, title, media_type, file_size, location)
             VALUES ($1, $2, $3, 'audio', $4, ST_SetSRID(ST_MakePoint($5, $6), 4326))",
        )
        .bind(user)
        .bind(category)
        .bind(title)
        .bind(size)
        .bind(lon)
        .bind(lat)
    };
    insert("ok", 78.4867, 17.385, 5 * 1024 * 1024 * 1024).execute(&db.pool).await.expect("5 GiB fits in file_size");
    for (title, lon, lat, size, constraint) in [
        ("  ", 78.0, 17.0, 1, "record_title_not_blank"),
        ("t", 200.0, 17.0, 1, "record_location_in_range"),
        ("t", 78.0, -91.0, 1, "record_location_in_range"),
        ("t", 78.0, 17.0, -1, "record_file_size_not_negative"),
    ] {
        let err = insert(title, lon, lat, size).execute(&db.pool).await.unwrap_err();
        let sqlx::Error::Database(db_err) = err else { panic!("{err}") };
        assert_eq!(db_err.constraint(), Some(constraint));
    }
    let blank_name =
        sqlx::query(r#"INSERT INTO "user" (phone, name) VALUES ('+919000000002', '')"#).execute(&db.pool).await;
    assert!(blank_name.unwrap_err().to_string().contains("user_name_not_blank"));
}
