//! The nearby search answers exactly what a plain `ST_DWithin` query does: for centres in a dense
//! city, in the countryside, at 50 N, far north (where a degree of longitude is short) and astride
//! the antimeridian, for radii from
//! 100 m to 50 km, every record within the radius on the spheroid, nearest first, and no other;
//! and so does the distance search, whose distances shown never decrease down a page.

use uuid::Uuid;

use crate::{
    helpers::{TestApp, accounts::TestUser, send},
    records_crud::category,
};

/// Up to `limit` records within `radius` metres of (`lat`, `lng`) as plain SQL has them: every
/// record measured on the spheroid, nearest first, newest first among equals.
async fn expected(app: &TestApp, lat: f64, lng: f64, radius: f64, limit: i64) -> Vec<String> {
    sqlx::query_scalar::<_, Uuid>(
        "SELECT uid FROM record WHERE location IS NOT NULL
           AND ST_DWithin(location::geography, ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography, $3)
         ORDER BY ST_Distance(location::geography, ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography),
                  created_at DESC, uid DESC
         LIMIT $4",
    )
    .bind(lng)
    .bind(lat)
    .bind(radius)
    .bind(limit)
    .fetch_all(app.pool())
    .await
    .unwrap()
    .into_iter()
    .map(|id| id.to_string())
    .collect()
}

/// The same through `/search/distance` (at most `max` metres away when given), with the distances
/// it shows, which must not decrease.
async fn by_distance(app: &TestApp, user: &TestUser, lat: f64, lng: f64, max: Option<f64>, limit: i64) -> Vec<String> {
    let mut path = format!("/api/v1/records/search/distance?latitude={lat}&longitude={lng}&limit={limit}");
    if let Some(max) = max {
        path.push_str(&format!("&max_distance_meters={max}"));
    }
    let (status, body) = send(app.get(&path).header("Authorization", user.bearer())).await;
    assert_eq!(status, 200, "{path}: {body}");
    let results = body.as_array().unwrap();
    let distances: Vec<f64> = results.iter().map(|r| r["distance_meters"].as_f64().unwrap()).collect();
    assert!(distances.windows(2).all(|w| w[0] <= w[1]), "{path}: distances out of order: {distances:?}");
    results.iter().map(|r| r["record"]["uid"].as_str().unwrap().to_owned()).collect()
}

/// The same through the API.
async fn searched(app: &TestApp, user: &TestUser, lat: f64, lng: f64, radius: f64, limit: i64) -> Vec<String> {
    let path = format!("/api/v1/records/search/nearby?latitude={lat}&longitude={lng}&radius={radius}&limit={limit}");
    let (status, body) = send(app.get(&path).header("Authorization", user.bearer())).await;
    assert_eq!(status, 200, "{path}: {body}");
    body.as_array().unwrap().iter().map(|r| r["uid"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn nearby_answers_exactly_what_a_plain_query_does() {
    let app = TestApp::spawn().await;
    let reviewer = app.reviewer().await;
    let owner = app.contributor().await;
    let places = category(&app, "places").await;
    // 4,000 records around Hyderabad (a 0.3 degree square), 1,000 over 10 degrees around it,
    // 1,000 around Tromsø at 69.6 N and 1,000 around Kraków at 50 N (2 degree squares), and 500
    // astride the antimeridian at 16.8 S (a 1 degree square), spread evenly (the fractional parts
    // of multiples of two irrationals).
    sqlx::query(
        r#"INSERT INTO record (user_id, category_id, title, media_type, status, location, created_at)
           SELECT $1, $2, 'r' || g, 'text', 'uploaded',
                  ST_SetSRID(ST_MakePoint(
                      CASE WHEN x > 180 THEN x - 360 ELSE x END,
                      lat + (g * 0.5698402910 - floor(g * 0.5698402910) - 0.5) * span), 4326),
                  timestamptz '2026-12-01 12:00:00+00' - make_interval(secs => g)
           FROM generate_series(1, 7500) g,
                LATERAL (SELECT CASE WHEN g <= 5000 THEN 17.385 WHEN g <= 6000 THEN 69.65 WHEN g <= 7000 THEN 50.06 ELSE -16.8 END AS lat,
                                CASE WHEN g <= 5000 THEN 78.4867 WHEN g <= 6000 THEN 18.96 WHEN g <= 7000 THEN 19.94 ELSE 179.98 END AS lng,
                                CASE WHEN g <= 4000 THEN 0.3 WHEN g <= 5000 THEN 10.0 WHEN g <= 7000 THEN 2.0 ELSE 1.0 END AS span) AS area,
                LATERAL (SELECT lng + (g * 0.7548776662 - floor(g * 0.7548776662) - 0.5) * span AS x) AS shifted"#,
    )
    .bind(owner.id)
    .bind(places)
    .execute(app.pool())
    .await
    .unwrap();
    sqlx::query("ANALYZE record").execute(app.pool()).await.unwrap();
    let centres = [
        (17.385, 78.4867),
        (17.5, 78.6),
        (19.0, 80.0),
        (69.65, 18.96),
        (70.2, 19.9),
        (50.06, 19.94),
        (50.9, 20.8),
        (-16.8, 179.98),
        (-16.7, -179.9),
    ];
    let radii = [100.0, 1_000.0, 5_000.0, 20_000.0, 50_000.0];
    let mut found = 0;
    for (lat, lng) in centres {
        for radius in radii {
            for limit in [1000, 7] {
                let want = expected(&app, lat, lng, radius, limit).await;
                let got = searched(&app, &reviewer, lat, lng, radius, limit).await;
                assert_eq!(got, want, "({lat}, {lng}), radius {radius} m, limit {limit}");
                found += want.len();
                let want = expected(&app, lat, lng, radius, limit.min(500)).await;
                let got = by_distance(&app, &reviewer, lat, lng, Some(radius), limit.min(500)).await;
                assert_eq!(got, want, "distance: ({lat}, {lng}), at most {radius} m, limit {limit}");
            }
        }
    }
    // Without a distance, the nearest located records wherever they are.
    for (lat, lng) in centres {
        let want = expected(&app, lat, lng, 20_100_000.0, 50).await;
        assert_eq!(want.len(), 50);
        assert_eq!(by_distance(&app, &reviewer, lat, lng, None, 50).await, want, "distance: ({lat}, {lng})");
    }
    // Most searches find records: the comparison is not one of empty lists.
    assert!(found > 5_000, "{found}");
}

#[tokio::test]
async fn nearby_pages_through_many_records_at_one_spot_in_order() {
    let app = TestApp::spawn().await;
    let reviewer = app.reviewer().await;
    let owner = app.contributor().await;
    let places = category(&app, "places").await;
    // 300 records sent from the very same spot (a kiosk), with a few around it.
    sqlx::query(
        r#"INSERT INTO record (user_id, category_id, title, media_type, status, location, created_at)
           SELECT $1, $2, 'r' || g, 'text', 'uploaded',
                  CASE WHEN g <= 300 THEN ST_SetSRID(ST_MakePoint(78.49, 17.39), 4326)
                       ELSE ST_SetSRID(ST_MakePoint(78.49 + (g - 300) * 0.0001, 17.39), 4326) END,
                  timestamptz '2026-12-01 12:00:00+00' - make_interval(secs => g % 97)
           FROM generate_series(1, 320) g"#,
    )
    .bind(owner.id)
    .bind(places)
    .execute(app.pool())
    .await
    .unwrap();
    let (lat, lng, radius) = (17.3905, 78.4905, 2_000.0);
    let want = expected(&app, lat, lng, radius, 1000).await;
    assert_eq!(want.len(), 320);
    let mut got = Vec::new();
    for skip in (0..330).step_by(7) {
        let path =
            format!("/api/v1/records/search/nearby?latitude={lat}&longitude={lng}&radius={radius}&limit=7&skip={skip}");
        let (status, body) = send(app.get(&path).header("Authorization", reviewer.bearer())).await;
        assert_eq!(status, 200, "{path}: {body}");
        got.extend(body.as_array().unwrap().iter().map(|r| r["uid"].as_str().unwrap().to_owned()));
    }
    assert_eq!(got, want, "every record once, in distance then newest-first order, across pages of 7");
}
