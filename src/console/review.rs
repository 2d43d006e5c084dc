//! Reviewers: the leased queue one record at a time (the API's queue, so two reviewers never see
//! the same record), the record's media shown, approve or reject with a note, skip, keyboard
//! shortcuts and a running count. Reviewers and admins only: anyone else gets 403.

use askama::Template;
use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect},
};
use object_store::GetRange;
use serde::Deserialize;
use uuid::Uuid;

use super::{Layout, PageResult, csrf::SessionForm, render, require, session::ConsoleUser};
use crate::{
    db::{
        categories,
        review::{self, QueueRequest},
    },
    domain::{MediaType, ReviewStatus, RoleName},
    state::AppState,
};

const STAFF: &[RoleName] = &[RoleName::Reviewer, RoleName::Admin];
/// How long a shown record stays leased to its reviewer.
const LEASE_SECONDS: i64 = 900;
/// Records one can skip in a row (they stay leased until the lease ends).
const SKIP_MAX: usize = 20;
/// Text shown of a text record.
const TEXT_PREVIEW_BYTES: u64 = 64 * 1024;
/// Longest note.
const NOTE_MAX: usize = 1000;

/// The queue position carried from page to page.
#[derive(Debug, Default, Deserialize)]
pub struct QueueState {
    /// Records skipped, comma-separated.
    #[serde(default)]
    skip: String,
    /// Decisions made so far.
    #[serde(default)]
    n: u32,
}

impl QueueState {
    fn skipped(&self) -> Vec<Uuid> {
        self.skip.split(',').filter_map(|s| Uuid::parse_str(s.trim()).ok()).take(SKIP_MAX).collect()
    }
}

/// The record under review, as the page shows it.
pub struct Item {
    /// Record id.
    pub id: Uuid,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Category title.
    pub category: String,
    /// `audio`, `video`, `image`, `text` or `document`.
    pub kind: &'static str,
    /// The beginning of a text record.
    pub text: String,
    /// Skip list including this record.
    pub skip_with_this: String,
}

#[derive(Template)]
#[template(path = "console/review.html")]
struct ReviewPage {
    layout: Layout,
    item: Option<Item>,
    count: u32,
    skip: String,
}

/// `GET /console/review`: claims and shows the next record.
pub async fn page(State(state): State<AppState>, user: ConsoleUser, Query(q): Query<QueueState>) -> PageResult {
    require(&user, STAFF, "review")?;
    let skipped = q.skipped();
    let request = QueueRequest {
        reviewer: user.user.id,
        category_id: None,
        media_type: None,
        limit: skipped.len() as i64 + 1,
        lease_seconds: LEASE_SECONDS,
    };
    let mut tx = state.db.begin().await?;
    let rows = review::claim_next(&mut tx, request).await?;
    tx.commit().await?;
    let skip: Vec<String> = skipped.iter().map(Uuid::to_string).collect();
    let item = match rows.into_iter().find(|r| !skipped.contains(&r.uid)) {
        Some(row) => {
            let category =
                categories::get(&state.db, row.category_id, true).await?.map(|c| c.title).unwrap_or_default();
            let text = match (&row.media_type, &row.object_key) {
                (MediaType::Text, Some(key)) => preview(&state, key).await,
                _ => String::new(),
            };
            let mut with_this = skip.clone();
            with_this.push(row.uid.to_string());
            Some(Item {
                id: row.uid,
                title: row.title,
                description: row.description.unwrap_or_default(),
                category,
                kind: row.media_type.as_str(),
                text,
                skip_with_this: with_this.join(","),
            })
        }
        None => None,
    };
    let page = ReviewPage { layout: Layout::for_user(&user, "review"), item, count: q.n, skip: skip.join(",") };
    Ok(render(&page))
}

/// The first bytes of a text record, as text.
async fn preview(state: &AppState, key: &str) -> String {
    match state.storage.get(key, Some(GetRange::Bounded(0..TEXT_PREVIEW_BYTES))).await {
        Ok(result) => match result.bytes().await {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => {
                tracing::warn!(error = %e, "reading a text record for review");
                String::new()
            }
        },
        Err(e) => {
            tracing::warn!(error = %e, "reading a text record for review");
            String::new()
        }
    }
}

/// The decision form.
#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    decision: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    skip: String,
    #[serde(default)]
    n: u32,
}

/// `POST /console/review/{record_id}`: approves or rejects, then shows the next record.
pub async fn decide(
    State(state): State<AppState>,
    Path(record_id): Path<Uuid>,
    SessionForm { user, form, .. }: SessionForm<DecisionForm>,
) -> PageResult {
    require(&user, STAFF, "review")?;
    let decision = match form.decision.as_str() {
        "approve" => ReviewStatus::Approved,
        "reject" => ReviewStatus::Rejected,
        _ => return Err(crate::AppError::BadRequest("decision must be approve or reject".into()).into()),
    };
    let note = form.note.trim();
    let note: String = note.chars().take(NOTE_MAX).collect();
    let note = (!note.is_empty()).then_some(note.as_str());
    let mut tx = state.db.begin().await?;
    let found = review::decide(&mut tx, record_id, user.user.id, decision, note).await?;
    tx.commit().await?;
    if found.is_none() {
        return Err(crate::AppError::NotFound("Record not found".into()).into());
    }
    tracing::info!(record_id = %record_id, decision = decision.as_str(), "record reviewed in the console");
    let next = format!(
        "/console/review?n={}&skip={}",
        form.n.saturating_add(1),
        percent_encoding::utf8_percent_encode(&form.skip, percent_encoding::NON_ALPHANUMERIC)
    );
    Ok(Redirect::to(&next).into_response())
}
