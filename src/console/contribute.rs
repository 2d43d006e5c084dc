//! Contributors: the contribute page (choose a category, upload a file or record audio) and
//! "my contributions" (playback, status, review outcome, totals).
//!
//! The upload form posts, without JavaScript, straight through the bridge to the API's upload;
//! with JavaScript the same form and the recorder send the file in chunks through the bridge and
//! resume after a dropped connection from what the server acknowledged.

use askama::Template;
use axum::extract::{Query, State};
use serde::Deserialize;

use super::{Layout, PageResult, render, session::ConsoleUser};
use crate::{
    db::{
        categories::{self, Category},
        contributions,
        records::{self, Filter, Page, RecordRow, Visibility},
    },
    domain::MediaType,
    state::AppState,
};

/// Default chunk size of the page's uploads.
const CHUNK_BYTES: usize = 512 * 1024;

#[derive(Template)]
#[template(path = "console/contribute.html")]
struct ContributePage {
    layout: Layout,
    categories: Vec<Category>,
    media_types: Vec<&'static str>,
    chunk_bytes: usize,
}

/// Query of the contribute page.
#[derive(Debug, Deserialize)]
pub struct ContributeQuery {
    /// Chunk size in bytes (at least 1 KiB; the browser tests make it small).
    chunk: Option<usize>,
}

/// `GET /console/contribute`.
pub async fn page(State(state): State<AppState>, user: ConsoleUser, Query(q): Query<ContributeQuery>) -> PageResult {
    let categories = categories::list(&state.db, user.is_admin()).await?;
    let page = ContributePage {
        layout: Layout::for_user(&user, "contribute"),
        categories,
        media_types: MediaType::ALL.iter().map(|m| m.as_str()).collect(),
        chunk_bytes: q.chunk.unwrap_or(CHUNK_BYTES).clamp(1024, 8 * 1024 * 1024),
    };
    Ok(render(&page))
}

/// One row of "my contributions".
pub struct MineRow {
    /// The record.
    pub record: RecordRow,
    /// Display of the status.
    pub status: String,
    /// Display of the review outcome.
    pub outcome: String,
    /// Display of the duration.
    pub duration: String,
}

#[derive(Template)]
#[template(path = "console/mine.html")]
struct MinePage {
    layout: Layout,
    rows: Vec<MineRow>,
    total: i64,
    hours: String,
    uploaded: bool,
}

/// Query of "my contributions".
#[derive(Debug, Deserialize)]
pub struct MineQuery {
    uploaded: Option<String>,
}

/// `GET /console/mine`: the newest 200 of the user's records, and totals over all of them.
pub async fn mine(State(state): State<AppState>, user: ConsoleUser, Query(q): Query<MineQuery>) -> PageResult {
    let mut filter = Filter::visible(Visibility::OwnedBy(user.user.id));
    filter.user_id = Some(user.user.id);
    let records = records::list(&state.db, &filter, Page::Offset { skip: 0, limit: 200 }).await?;
    let totals = contributions::totals(&state.db, user.user.id).await?;
    let seconds = totals.audio_duration + totals.video_duration;
    let layout = Layout::for_user(&user, "mine");
    let rows = records
        .into_iter()
        .map(|record| MineRow {
            status: record.status.as_str().to_owned(),
            outcome: match &record.review_status {
                Some(decision) => layout.t(decision.as_str()).to_owned(),
                None => layout.t("pending").to_owned(),
            },
            duration: record.duration_seconds.map(|s| format!("{}:{:02}", s / 60, s % 60)).unwrap_or_default(),
            record,
        })
        .collect();
    let page = MinePage {
        layout,
        rows,
        total: totals.total(),
        hours: format!("{:.2}", seconds as f64 / 3600.0),
        uploaded: q.uploaded.is_some(),
    };
    Ok(render(&page))
}

/// Whether a media type is shown with a player.
pub fn playable(media_type: MediaType) -> &'static str {
    match media_type {
        MediaType::Audio => "audio",
        MediaType::Video => "video",
        MediaType::Image => "image",
        _ => "",
    }
}
