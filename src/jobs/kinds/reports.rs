//! Statistics and report jobs (JSON results; no e-mail is sent: the service has no SMTP
//! settings). Every number comes from [`crate::db::statistics`] or
//! [`crate::db::contributions`], so reports agree with the statistics endpoint.

use chrono::{Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    db::{
        accounts, contributions,
        statistics::{self, Scope},
    },
    domain::MediaType,
    jobs::JobContext,
};

fn user_arg(ctx: &JobContext) -> anyhow::Result<Option<Uuid>> {
    match ctx.arg_str("user_id") {
        None => Ok(None),
        Some(raw) => Ok(Some(raw.parse().map_err(|_| anyhow::anyhow!("invalid user_id `{raw}`"))?)),
    }
}

fn date_arg(ctx: &JobContext, name: &str) -> anyhow::Result<Option<NaiveDate>> {
    match ctx.arg_str(name) {
        None => Ok(None),
        Some(raw) => {
            Ok(Some(NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| anyhow::anyhow!("invalid {name} `{raw}`"))?))
        }
    }
}

/// One user's totals per media type.
async fn user_totals(ctx: &JobContext, user: Uuid) -> anyhow::Result<Value> {
    let totals = contributions::totals(&ctx.state.db, user).await?;
    let per_type: serde_json::Map<String, Value> =
        MediaType::ALL.iter().map(|m| (m.as_str().to_owned(), Value::from(totals.count(*m)))).collect();
    let seconds = totals.audio_duration + totals.video_duration;
    Ok(json!({
        "total_records": totals.total(),
        "file_type_distribution": per_type,
        "audio_duration_seconds": totals.audio_duration,
        "video_duration_seconds": totals.video_duration,
        "total_duration_seconds": seconds,
        "total_hours": (seconds as f64 / 36.0).round() / 100.0,
    }))
}

/// `generate_statistics {user_id?}`: the corpus statistics, or one user's totals.
pub async fn generate_statistics(ctx: JobContext) -> anyhow::Result<Value> {
    ctx.progress(0, 1, "Computing statistics...");
    let user = user_arg(&ctx)?;
    let statistics = match user {
        Some(user) => user_totals(&ctx, user).await?,
        None => {
            let mut conn = ctx.state.db.acquire().await?;
            serde_json::to_value(statistics::corpus(&mut conn, Scope::default()).await?)?
        }
    };
    Ok(json!({ "status": "success", "statistics": statistics, "user_id": user, "generated_at": Utc::now() }))
}

/// `daily_report {report_date?}`: what was collected on one UTC day (yesterday by default),
/// with the corpus totals as of now.
pub async fn daily_report(ctx: JobContext) -> anyhow::Result<Value> {
    let today = Utc::now().date_naive();
    let date = date_arg(&ctx, "report_date")?.unwrap_or(today - Duration::days(1));
    let days = (today - date).num_days() + 1;
    anyhow::ensure!((1..=366).contains(&days), "report_date must be within the last 366 days and not in the future");
    ctx.progress(0, 1, "Computing the report...");
    let mut conn = ctx.state.db.acquire().await?;
    let corpus = statistics::corpus(&mut conn, Scope { days, top: 10 }).await?;
    let day = corpus.by_day.iter().find(|d| d.day == date).map(|d| d.totals.clone()).unwrap_or_default();
    Ok(json!({
        "status": "success",
        "report_data": {
            "report_date": date,
            "summary": {
                "total_uploads": day.records,
                "total_duration_seconds": day.duration_seconds,
                "total_hours": day.hours,
                "total_bytes": day.bytes,
            },
            "corpus": {
                "total": corpus.total,
                "users": corpus.users,
                "contributors": corpus.contributors,
                "by_media_type": corpus.by_media_type,
                "review": corpus.review,
            },
            "generated_at": corpus.generated_at,
        },
        "email_sent": false,
    }))
}

/// `user_report {user_id, start_date?, end_date?}`: a user's profile summary and totals.
pub async fn user_report(ctx: JobContext) -> anyhow::Result<Value> {
    let user_id = user_arg(&ctx)?.ok_or_else(|| anyhow::anyhow!("user_report needs a user_id"))?;
    let end = date_arg(&ctx, "end_date")?.unwrap_or_else(|| Utc::now().date_naive());
    let start = date_arg(&ctx, "start_date")?.unwrap_or(end - Duration::days(30));
    let user =
        accounts::get_user(&ctx.state.db, user_id).await?.ok_or_else(|| anyhow::anyhow!("User {user_id} not found"))?;
    ctx.progress(0, 1, "Computing the report...");
    Ok(json!({
        "status": "success",
        "report_data": {
            "user_id": user_id,
            "username": user.name,
            "email": user.email,
            "report_period": { "start_date": start, "end_date": end },
            "summary": user_totals(&ctx, user_id).await?,
            "generated_at": Utc::now(),
        },
        "email_sent": false,
    }))
}
