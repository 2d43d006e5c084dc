//! `corpus db seed`: the original's sample data (users, categories, records) and, on request, its
//! 14 production categories. Idempotent: users match by phone, categories by name, records by title.

use sqlx::PgPool;

/// A sample account: name, phone, email, gender, date of birth, place, password, role.
type SampleUser =
    (&'static str, &'static str, &'static str, &'static str, &'static str, &'static str, &'static str, &'static str);
/// A sample record: title, media type, file url, size, status, owner phone, category, reviewed.
type SampleRecord = (&'static str, &'static str, &'static str, i64, &'static str, &'static str, &'static str, bool);

/// The original's sample accounts.
pub const SAMPLE_USERS: [SampleUser; 3] = [
    (
        "Admin User",
        "1111111111",
        "admin@example.com",
        "other",
        "1990-01-15",
        "Hyderabad, Telangana",
        "admin123",
        "admin",
    ),
    (
        "Reviewer User",
        "2222222222",
        "reviewer@example.com",
        "female",
        "1985-06-20",
        "Bangalore, Karnataka",
        "reviewer123",
        "reviewer",
    ),
    ("Regular User", "3333333333", "user@example.com", "male", "1995-12-10", "Chennai, Tamil Nadu", "user123", "user"),
];

/// Sample categories: (name, title, description, rank).
pub const SAMPLE_CATEGORIES: [(&str, &str, &str, i32); 2] = [
    ("stories", "Folk Stories", "Traditional stories and folklore from Telugu culture", 1),
    ("songs", "Traditional Songs", "Folk songs, lullabies, and traditional music", 2),
];

/// The original's sample records.
pub const SAMPLE_RECORDS: [SampleRecord; 4] = [
    (
        "The Wise Farmer's Tale",
        "text",
        "/files/stories/wise_farmer.txt",
        2048,
        "uploaded",
        "1111111111",
        "stories",
        true,
    ),
    (
        "Lullaby for the Moon",
        "audio",
        "/files/songs/moon_lullaby.mp3",
        5_242_880,
        "uploaded",
        "2222222222",
        "songs",
        true,
    ),
    (
        "Village Festival Dance",
        "video",
        "/files/videos/festival_dance.mp4",
        52_428_800,
        "uploaded",
        "3333333333",
        "songs",
        false,
    ),
    (
        "The Legend of Banjara Hills",
        "text",
        "/files/stories/banjara_legend.txt",
        3584,
        "pending",
        "2222222222",
        "stories",
        false,
    ),
];

/// The original's production categories: (rank, name, title, description), all published.
pub const PRODUCTION_CATEGORIES: [(i32, &str, &str, &str); 14] = [
    (1, "fables", "Fables", "Traditional stories with moral lessons and mythical characters"),
    (2, "events", "Events", "Happenings, celebrations, and special occasions"),
    (3, "music", "Music", "Musical content, songs, instruments, and audio experiences"),
    (4, "places", "Places", "Locations, landmarks, and geographical content"),
    (5, "food", "Food", "Culinary content, recipes, and food-related information"),
    (6, "people", "People", "Individuals, personalities, and human-related content"),
    (7, "literature", "Literature", "Books, poems, writings, and literary works"),
    (8, "architecture", "Architecture", "Buildings, structures, and architectural designs"),
    (9, "skills", "Skills", "Abilities, talents, and learning resources"),
    (10, "images", "Images", "Visual content, pictures, and graphic materials"),
    (11, "culture", "Culture", "Cultural traditions, customs, and heritage"),
    (12, "flora_&_fauna", "Flora & Fauna", "Plants, animals, and natural life forms"),
    (13, "education", "Education", "Learning materials, courses, and educational content"),
    (14, "vegetation", "Vegetation", "Plant life, gardening, and botanical content"),
];

/// What a seed run inserted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// Users inserted.
    pub users: u64,
    /// Categories inserted.
    pub categories: u64,
    /// Records inserted.
    pub records: u64,
}

/// Inserts the sample users, categories and records that are missing. `password_hashes` holds
/// the hash of each [`SAMPLE_USERS`] password, in order (hashing is the caller's: this layer
/// stores, it does not hash).
pub async fn seed_samples(pool: &PgPool, password_hashes: &[String]) -> anyhow::Result<SeedReport> {
    anyhow::ensure!(password_hashes.len() == SAMPLE_USERS.len(), "one password hash per sample user");
    let mut report = SeedReport::default();
    let mut tx = pool.begin().await?;
    for ((name, phone, email, gender, dob, place, _, role), hash) in SAMPLE_USERS.into_iter().zip(password_hashes) {
        let exists =
            sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM "user" WHERE phone = $1) AS "exists!""#, phone)
                .fetch_one(&mut *tx)
                .await?;
        if exists {
            continue;
        }
        let id = sqlx::query_scalar!(
            r#"INSERT INTO "user" (id, phone, name, email, gender, date_of_birth, place, hashed_password, is_active,
                                   has_given_consent, consent_given_at)
               VALUES (gen_random_uuid(), $1, $2, $3, $4, $5::text::date, $6, $7, true, true, now()) RETURNING id"#,
            phone,
            name,
            email,
            gender,
            dob,
            place,
            hash
        )
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query!(
            "INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM role WHERE name::text = $2 ON CONFLICT DO NOTHING",
            id,
            role
        )
        .execute(&mut *tx)
        .await?;
        report.users += 1;
    }
    for (name, title, description, rank) in SAMPLE_CATEGORIES {
        report.categories += insert_category(&mut tx, name, title, description, rank).await?;
    }
    for (title, media, url, size, status, owner, category, reviewed) in SAMPLE_RECORDS {
        report.records += sqlx::query!(
            r#"INSERT INTO record (uid, user_id, category_id, status, reviewed, title, media_type, file_url, file_name, file_size)
               SELECT gen_random_uuid(), u.id, c.id, $1, $2, $3::text, $4::text::mediatype, $5::text, regexp_replace($5::text, '^.*/', ''), $6
               FROM "user" u, category c
               WHERE u.phone = $7 AND c.name = $8
                 AND NOT EXISTS (SELECT 1 FROM record WHERE title = $3::text)"#,
            status,
            reviewed,
            title,
            media,
            url,
            size,
            owner,
            category
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    tx.commit().await?;
    Ok(report)
}

/// Inserts the 14 production categories that are missing; returns how many were inserted.
pub async fn seed_production_categories(pool: &PgPool) -> anyhow::Result<u64> {
    let mut tx = pool.begin().await?;
    let mut inserted = 0;
    for (rank, name, title, description) in PRODUCTION_CATEGORIES {
        inserted += insert_category(&mut tx, name, title, description, rank).await?;
    }
    tx.commit().await?;
    Ok(inserted)
}

async fn insert_category(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    name: &str,
    title: &str,
    description: &str,
    rank: i32,
) -> anyhow::Result<u64> {
    Ok(sqlx::query!(
        "INSERT INTO category (id, name, title, description, published, rank)
         VALUES (gen_random_uuid(), $1, $2, $3, true, $4) ON CONFLICT (name) DO NOTHING",
        name,
        title,
        description,
        rank
    )
    .execute(&mut **tx)
    .await?
    .rows_affected())
}
