//! The box search through the spatial grid: for every box, filter and page it answers the same
//! records in the same order as a plain ST_Intersects query, and a small box on dense data is
//! read through the grid index, not by walking every record newest first, while a box holding
//! every record is walked newest first (the first page is then the first records walked).

use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::{
    helpers::{TestApp, accounts::TestUser, send},
    records_crud::category,
};

/// South, north, west, east.
type Box4 = (f64, f64, f64, f64);

/// The seeded corpus: who owns what, in which categories.
struct Corpus {
    alice: TestUser,
    reviewer: TestUser,
    fables: Uuid,
}

/// A city campaign and a thin countryside: 3,000 records in a 0.03 degree square (a lattice of
/// 0.0001 degree steps, so many lie exactly on cell edges and box edges), records exactly on cell
/// corners, 600 spread over 10 degrees and 50 without a location. Creation times come in threes,
/// so the id decides the order within a tie.
async fn seed(app: &TestApp) -> Corpus {
    let (alice, bob, reviewer) = (app.contributor().await, app.contributor().await, app.reviewer().await);
    let (fables, songs) = (category(app, "fables").await, category(app, "songs").await);
    sqlx::query(
        r#"INSERT INTO record (user_id, category_id, title, media_type, status, location, created_at)
           SELECT CASE WHEN g % 5 = 0 THEN $1 ELSE $2 END, CASE WHEN g % 3 = 0 THEN $3 ELSE $4 END, 'r' || g,
                  (ARRAY['text', 'audio', 'video', 'image'])[1 + g % 4]::mediatype, 'uploaded',
                  CASE
                      WHEN g <= 3000 THEN ST_SetSRID(ST_MakePoint(
                          round(78.48 + ((g * 53) % 293) * 0.0001, 4)::float8,
                          round(17.38 + ((g * 37) % 301) * 0.0001, 4)::float8), 4326)
                      WHEN g <= 3600 THEN ST_SetSRID(ST_MakePoint(
                          round(73.5 + ((g * 13) % 997) * 0.01, 2)::float8,
                          round(12.4 + ((g * 7) % 1000) * 0.01, 2)::float8), 4326)
                  END,
                  timestamptz '2026-12-01 12:00:00+00' - make_interval(secs => (g * 7919 % 3650) / 3)
           FROM generate_series(1, 3650) g"#,
    )
    .bind(alice.id)
    .bind(bob.id)
    .bind(fables)
    .bind(songs)
    .execute(app.pool())
    .await
    .unwrap();
    sqlx::query(
        r#"INSERT INTO record (user_id, category_id, title, media_type, status, location, created_at)
           SELECT $1, $2, 'corner', 'text', 'uploaded', ST_SetSRID(ST_MakePoint(lng, lat), 4326),
                  timestamptz '2026-12-01 12:00:00+00' - make_interval(secs => n * 100)
           FROM (VALUES (1, 17.39::float8, 78.49::float8), (2, 17.4, 78.5), (3, 17.39, 78.5), (4, 17.4, 78.49),
                        (5, 17.38, 78.48), (6, 17.41, 78.51), (7, 17.385, 78.485), (8, 17.395, 78.495),
                        (9, 17.3, 78.4), (10, 17.5, 78.6)) AS p(n, lat, lng)"#,
    )
    .bind(alice.id)
    .bind(fables)
    .execute(app.pool())
    .await
    .unwrap();
    // As a live database would have: statistics for the planner.
    sqlx::query("ANALYZE record").execute(app.pool()).await.unwrap();
    Corpus { alice, reviewer, fables }
}

/// Ids of the records in `bbox` (boundary included) that `owner` and `category` select, newest
/// first, as plain SQL finds them.
async fn expected(
    app: &TestApp,
    bbox: Box4,
    owner: Option<Uuid>,
    category: Option<Uuid>,
    skip: i64,
    limit: i64,
) -> Vec<String> {
    let (south, north, west, east) = bbox;
    sqlx::query_scalar::<_, Uuid>(
        "SELECT uid FROM record WHERE location IS NOT NULL \
           AND ST_Intersects(location, ST_MakeEnvelope($1, $2, $3, $4, 4326)) \
           AND ($5::uuid IS NULL OR user_id = $5) AND ($6::uuid IS NULL OR category_id = $6) \
         ORDER BY created_at DESC, uid DESC OFFSET $7 LIMIT $8",
    )
    .bind(west)
    .bind(south)
    .bind(east)
    .bind(north)
    .bind(owner)
    .bind(category)
    .bind(skip)
    .bind(limit)
    .fetch_all(app.pool())
    .await
    .unwrap()
    .into_iter()
    .map(|uid| uid.to_string())
    .collect()
}

/// Ids the API answers for `bbox`, in its order.
async fn searched(
    app: &TestApp,
    user: &TestUser,
    bbox: Box4,
    category: Option<Uuid>,
    skip: i64,
    limit: i64,
) -> Vec<String> {
    let (south, north, west, east) = bbox;
    let mut path = format!(
        "/api/v1/records/search/bbox?min_lat={south}&max_lat={north}&min_lng={west}&max_lng={east}&skip={skip}&limit={limit}"
    );
    if let Some(id) = category {
        path.push_str(&format!("&category_id={id}"));
    }
    let (status, body) = send(app.get(&path).header("Authorization", user.bearer())).await;
    assert_eq!(status, 200, "{path}: {body}");
    body.as_array().unwrap().iter().map(|r| r["uid"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn bbox_search_answers_exactly_what_a_plain_query_does() {
    let app = TestApp::spawn().await;
    let corpus = seed(&app).await;
    let boxes: [(&str, Box4); 13] = [
        ("tiny, inside one cell", (17.3912, 17.3931, 78.4855, 78.4871)),
        ("one cell on paper, edges on cell edges", (17.39, 17.4, 78.49, 78.5)),
        ("straddling four cells", (17.385, 17.395, 78.485, 78.495)),
        ("edges on lattice points", (17.3851, 17.3949, 78.4851, 78.4949)),
        ("nine cells", (17.383, 17.403, 78.483, 78.503)),
        ("a sliver along a cell edge", (17.39, 17.3901, 78.48, 78.51)),
        ("a sliver across cells", (17.38, 17.41, 78.4937, 78.4938)),
        ("the whole city", (17.38, 17.41, 78.48, 78.51)),
        ("coarse cells", (17.3, 17.5, 78.4, 78.6)),
        ("coarse cells, edges off the grid", (17.33, 17.57, 78.42, 78.69)),
        ("beyond the grid", (12.0, 23.0, 73.0, 84.0)),
        ("holding all", (-90.0, 90.0, -180.0, 180.0)),
        ("empty", (0.0, 0.01, 0.0, 0.01)),
    ];
    let pages: [(i64, i64); 7] = [(0, 100), (0, 1), (7, 13), (50, 50), (0, 1000), (250, 100), (990, 10)];
    let mut nonempty = 0;
    for (name, bbox) in boxes {
        for (skip, limit) in pages {
            // Everyone (a reviewer), one category, and a contributor who sees only their own.
            let views = [
                (&corpus.reviewer, None, None),
                (&corpus.reviewer, Some(corpus.fables), None),
                (&corpus.alice, None, Some(corpus.alice.id)),
            ];
            for (user, category, owner) in views {
                let want = expected(&app, bbox, owner, category, skip, limit).await;
                let got = searched(&app, user, bbox, category, skip, limit).await;
                assert_eq!(
                    got, want,
                    "{name} {bbox:?}, skip {skip}, limit {limit}, category {category:?}, owner {owner:?}"
                );
                nonempty += usize::from(!want.is_empty());
            }
        }
    }
    // Most combinations hold records; the comparison is not one of empty lists.
    assert!(nonempty > 150, "{nonempty}");
}

/// Index scans of `index` so far, as the statistics collector has them.
async fn index_scans(app: &TestApp, index: &str) -> i64 {
    index_stat(app, index, "idx_scan").await
}

/// A counter of `index` (`idx_scan`, `idx_tup_read`) so far, as the statistics collector has it.
async fn index_stat(app: &TestApp, index: &str, counter: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT {counter} FROM pg_stat_user_indexes WHERE indexrelname = $1"))
        .bind(index)
        .fetch_one(app.pool())
        .await
        .unwrap()
}

/// The index scans one search makes, per index: the server's connection reports its counts when it
/// goes idle, at most once a second, so the search comes a second after the last one and the
/// counts are awaited.
async fn scans_by(app: &TestApp, user: &TestUser, bbox: Box4, indexes: &[&str]) -> Vec<i64> {
    let mut before = Vec::new();
    for index in indexes {
        before.push(index_scans(app, index).await);
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let found = searched(app, user, bbox, None, 0, 100).await;
    assert!(!found.is_empty());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut delta = Vec::new();
        for (index, before) in indexes.iter().zip(&before) {
            delta.push(index_scans(app, index).await - before);
        }
        if delta.iter().any(|&d| d > 0) || Instant::now() > deadline {
            return delta;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_small_box_on_dense_data_walks_the_grid() {
    let app = TestApp::spawn().await;
    let corpus = seed(&app).await;
    let indexes = ["record_grid_100_idx", "record_grid_10_idx", "record_created_desc_idx", "idx_record_location"];
    // Nine cells of 0.01 degree, each walked newest first from its own prefix of the index.
    let delta = scans_by(&app, &corpus.reviewer, (17.383, 17.403, 78.483, 78.503), &indexes).await;
    assert!(delta[0] > 0 && delta[1..] == [0, 0, 0], "scans per index {indexes:?}: {delta:?}");
    // A box of a few 0.1 degree cells reads the coarser grid.
    let delta = scans_by(&app, &corpus.reviewer, (17.3, 17.5, 78.4, 78.6), &indexes).await;
    assert!(delta[1] > 0 && delta[0] == 0 && delta[2..] == [0, 0], "scans per index {indexes:?}: {delta:?}");
}

#[tokio::test]
async fn a_box_holding_every_located_record_walks_the_newest_first() {
    let app = TestApp::spawn().await;
    let reviewer = app.reviewer().await;
    let owner = app.contributor().await;
    let songs = category(&app, "songs").await;
    // A city campaign only: 2,000 records in a 0.03 degree square.
    sqlx::query(
        r#"INSERT INTO record (user_id, category_id, title, media_type, status, location, created_at)
           SELECT $1, $2, 'r' || g, 'text', 'uploaded',
                  ST_SetSRID(ST_MakePoint(78.48 + (g % 47) * 0.0006, 17.38 + (g % 53) * 0.0006), 4326),
                  timestamptz '2026-12-01 12:00:00+00' - make_interval(secs => g)
           FROM generate_series(1, 2000) g"#,
    )
    .bind(owner.id)
    .bind(songs)
    .execute(app.pool())
    .await
    .unwrap();
    sqlx::query("ANALYZE record").execute(app.pool()).await.unwrap();
    let indexes = ["record_grid_100_idx", "record_grid_10_idx", "record_created_desc_idx", "idx_record_location"];
    // A box of nine 0.1 degree cells around the whole city: the grid would read a page from each.
    let around = (17.3, 17.5, 78.4, 78.6);
    let delta = scans_by(&app, &reviewer, around, &indexes).await;
    assert!(delta[2] > 0 && delta[..2] == [0, 0] && delta[3] == 0, "scans per index {indexes:?}: {delta:?}");
    // A box holding part of the city still reads the grid.
    let delta = scans_by(&app, &reviewer, (17.385, 17.395, 78.485, 78.495), &indexes).await;
    assert!(delta[0] > 0 && delta[1..] == [0, 0, 0], "scans per index {indexes:?}: {delta:?}");
    // Same answers as the plain query (after the index counts: these searches would add to them).
    for (skip, limit) in [(0, 100), (1950, 100), (0, 1000)] {
        assert_eq!(
            searched(&app, &reviewer, around, None, skip, limit).await,
            expected(&app, around, None, None, skip, limit).await
        );
    }
}

#[tokio::test]
async fn a_small_box_reads_about_one_page_however_dense_its_cells() {
    let app = TestApp::spawn().await;
    let reviewer = app.reviewer().await;
    let owner = app.contributor().await;
    let songs = category(&app, "songs").await;
    // 30,000 records in nine 0.01 degree cells, about 3,300 a cell, spread evenly at every age
    // (the fractional parts of multiples of two irrationals).
    sqlx::query(
        r#"INSERT INTO record (user_id, category_id, title, media_type, status, location, created_at)
           SELECT $1, $2, 'r' || g, 'text', 'uploaded',
                  ST_SetSRID(ST_MakePoint(78.48 + (g * 0.7548776662 - floor(g * 0.7548776662)) * 0.03,
                                          17.38 + (g * 0.5698402910 - floor(g * 0.5698402910)) * 0.03), 4326),
                  timestamptz '2026-12-01 12:00:00+00' - make_interval(secs => g)
           FROM generate_series(1, 30000) g"#,
    )
    .bind(owner.id)
    .bind(songs)
    .execute(app.pool())
    .await
    .unwrap();
    sqlx::query("ANALYZE record").execute(app.pool()).await.unwrap();
    let bbox = (17.383, 17.403, 78.483, 78.503);
    let (scans_before, read_before) =
        (index_scans(&app, "record_grid_100_idx").await, index_stat(&app, "record_grid_100_idx", "idx_tup_read").await);
    // More than five times, so that the statement also runs on the plan PostgreSQL keeps for it.
    const SEARCHES: i64 = 8;
    for _ in 0..SEARCHES {
        assert_eq!(searched(&app, &reviewer, bbox, None, 0, 100).await, expected(&app, bbox, None, None, 0, 100).await);
    }
    // Nine cells a search; the server's connections report their counts within a second or so.
    let deadline = Instant::now() + Duration::from_secs(30);
    while index_scans(&app, "record_grid_100_idx").await - scans_before < 9 * SEARCHES && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(index_scans(&app, "record_grid_100_idx").await - scans_before, 9 * SEARCHES);
    // The walks are merged until the page is full: the page, plus what the box test turns away in
    // the edge cells. A page from each cell would read at least 900 entries, and every record of
    // the cells, 30,000.
    let read = (index_stat(&app, "record_grid_100_idx", "idx_tup_read").await - read_before) / SEARCHES;
    assert!((100..450).contains(&read), "grid index entries read per page of 100: {read}");
}
