//! Corpus statistics (`db::statistics`): totals per category, media type, language, contributor
//! and day agree with the records seeded, flagged durations never count, and the review backlog
//! follows reviews and leases.

use corpus_te::db::statistics::{self, Scope};
use corpus_te::domain::MediaType;
use uuid::Uuid;

use crate::helpers::TestApp;

async fn category(app: &TestApp, name: &str) -> Uuid {
    sqlx::query_scalar("INSERT INTO category (name, title, published) VALUES ($1, $1, true) RETURNING id")
        .bind(name)
        .fetch_one(app.pool())
        .await
        .unwrap()
}

struct Seed<'a> {
    user: Uuid,
    category: Uuid,
    media: &'a str,
    language: Option<&'a str>,
    seconds: Option<i32>,
    size: Option<i32>,
    days_ago: i32,
}

async fn record(app: &TestApp, seed: Seed<'_>) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO record (user_id, category_id, title, media_type, language, duration_seconds, file_size, created_at) \
         VALUES ($1, $2, 'r', $3::mediatype, $4, $5, $6, now() - make_interval(days => $7)) RETURNING uid",
    )
    .bind(seed.user)
    .bind(seed.category)
    .bind(seed.media)
    .bind(seed.language)
    .bind(seed.seconds)
    .bind(seed.size)
    .bind(seed.days_ago)
    .fetch_one(app.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn statistics_add_up_per_category_media_language_contributor_and_day() {
    let app = TestApp::spawn().await;
    let busy = app.contributor().await;
    let quiet = app.contributor().await;
    let _idle = app.contributor().await;
    let songs = category(&app, "songs").await;
    let stories = category(&app, "stories").await;
    let empty = category(&app, "empty").await;
    let seed = |user, category, media, language, seconds, size, days_ago| Seed {
        user,
        category,
        media,
        language,
        seconds,
        size,
        days_ago,
    };
    record(&app, seed(busy.id, songs, "audio", Some("te"), Some(3600), Some(1000), 0)).await;
    record(&app, seed(busy.id, songs, "audio", Some("te"), Some(1800), Some(500), 1)).await;
    // Unknown (or implausible) duration: counted as a record, never in hours.
    let flagged = record(&app, seed(busy.id, stories, "video", Some("te"), None, Some(20), 1)).await;
    sqlx::query("UPDATE record SET duration_implausible = true WHERE uid = $1")
        .bind(flagged)
        .execute(app.pool())
        .await
        .unwrap();
    record(&app, seed(quiet.id, stories, "text", None, None, None, 3)).await;
    // Older than the day window: in the totals, not in by_day.
    record(&app, seed(quiet.id, stories, "image", Some("en"), None, Some(7), 40)).await;

    let mut conn = app.pool().acquire().await.unwrap();
    let stats = statistics::corpus(&mut conn, Scope { days: 7, top: 1 }).await.unwrap();

    assert_eq!((stats.total.records, stats.total.duration_seconds, stats.total.bytes), (5, 5400, 1527));
    assert_eq!(stats.total.hours, 1.5);
    assert_eq!((stats.users, stats.contributors), (3, 2));

    let by_category: Vec<_> =
        stats.by_category.iter().map(|c| (c.category_id, c.totals.records, c.totals.duration_seconds)).collect();
    assert_eq!(by_category, vec![(stories, 3, 0), (songs, 2, 5400), (empty, 0, 0)]);

    assert_eq!(stats.by_media_type.len(), MediaType::ALL.len());
    let media = |m: MediaType| stats.by_media_type.iter().find(|t| t.media_type == m).unwrap().totals.clone();
    assert_eq!((media(MediaType::Audio).records, media(MediaType::Audio).duration_seconds), (2, 5400));
    assert_eq!((media(MediaType::Video).records, media(MediaType::Video).duration_seconds), (1, 0));
    assert_eq!(media(MediaType::Document).records, 0);

    let languages: Vec<_> = stats.by_language.iter().map(|l| (l.language.as_deref(), l.totals.records)).collect();
    assert_eq!(languages, vec![(Some("te"), 3), (Some("en"), 1), (None, 1)]);

    assert_eq!(stats.top_contributors.len(), 1);
    assert_eq!((stats.top_contributors[0].user_id, stats.top_contributors[0].totals.records), (busy.id, 3));

    assert_eq!(stats.by_day.len(), 7);
    assert!(stats.by_day.windows(2).all(|w| w[0].day < w[1].day), "oldest first");
    let per_day: Vec<i64> = stats.by_day.iter().map(|d| d.totals.records).collect();
    assert_eq!(per_day, vec![0, 0, 0, 1, 0, 2, 1]);
    assert_eq!(stats.by_day.iter().map(|d| d.totals.records).sum::<i64>(), 4);

    assert_eq!((stats.review.backlog, stats.review.approved, stats.review.in_review), (5, 0, 0));
}

#[tokio::test]
async fn the_review_backlog_follows_decisions_and_leases() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    let reviewer = app.reviewer().await;
    let cat = category(&app, "c").await;
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(
            record(
                &app,
                Seed {
                    user: user.id,
                    category: cat,
                    media: "text",
                    language: None,
                    seconds: None,
                    size: None,
                    days_ago: 0,
                },
            )
            .await,
        );
    }
    sqlx::query("UPDATE record SET reviewed = true, review_status = 'approved', status = 'approved' WHERE uid = $1")
        .bind(ids[0])
        .execute(app.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE record SET reviewed = true, review_status = 'rejected', status = 'rejected' WHERE uid = $1")
        .bind(ids[1])
        .execute(app.pool())
        .await
        .unwrap();
    // One live lease and one expired lease: only the live one is "in review".
    sqlx::query(
        "INSERT INTO review_claim (record_uid, reviewer_id, expires_at) VALUES ($1, $3, now() + interval '5 minutes'), ($2, $3, now() - interval '1 minute')",
    )
    .bind(ids[2])
    .bind(ids[3])
    .bind(reviewer.id)
    .execute(app.pool())
    .await
    .unwrap();
    let review = statistics::review(app.pool()).await.unwrap();
    assert_eq!((review.backlog, review.approved, review.rejected, review.in_review), (2, 1, 1, 1));
}
