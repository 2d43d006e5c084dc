//! The admin dashboard: records and hours per day, per category, per media type, the top
//! contributors and the review backlog, from the same statistics module the API and reports use
//! (`db::statistics`), drawn as server-side SVG and `<meter>` bars (no script, no inline style).

use askama::Template;
use axum::extract::State;

use super::{Layout, PageResult, render, require, session::ConsoleUser};
use crate::{
    db::statistics::{self, CorpusStatistics, Scope},
    domain::RoleName,
    state::AppState,
};

/// One bar of a horizontal chart.
pub struct Bar {
    /// Label.
    pub label: String,
    /// Records.
    pub records: i64,
    /// Hours, formatted.
    pub hours: String,
    /// Records relative to the largest bar (0..=1000, for `<meter>`).
    pub share: i64,
}

/// One column of the per-day chart, in SVG user units (100 high).
pub struct Column {
    /// The day (`MM-DD`).
    pub label: String,
    /// x of the column.
    pub x: usize,
    /// Height of the records column.
    pub records_height: i64,
    /// y of the records column.
    pub records_y: i64,
    /// Height of the hours column.
    pub hours_height: i64,
    /// y of the hours column.
    pub hours_y: i64,
    /// Tooltip.
    pub tip: String,
}

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct DashboardPage {
    layout: Layout,
    stats: CorpusStatistics,
    days: Vec<Column>,
    width: usize,
    sections: Vec<(&'static str, Vec<Bar>)>,
}

fn bars(items: impl Iterator<Item = (String, i64, f64)>) -> Vec<Bar> {
    let items: Vec<_> = items.collect();
    let max = items.iter().map(|(_, r, _)| *r).max().unwrap_or(0).max(1);
    items
        .into_iter()
        .map(|(label, records, hours)| Bar {
            label,
            records,
            hours: format!("{hours:.2}"),
            share: records * 1000 / max,
        })
        .collect()
}

/// `GET /console/admin`.
pub async fn page(State(state): State<AppState>, user: ConsoleUser) -> PageResult {
    require(&user, &[RoleName::Admin], "dashboard")?;
    let stats = statistics::corpus(&mut *state.db.acquire().await?, Scope::default()).await?;
    let max_records = stats.by_day.iter().map(|d| d.totals.records).max().unwrap_or(0).max(1);
    let max_seconds = stats.by_day.iter().map(|d| d.totals.duration_seconds).max().unwrap_or(0).max(1);
    let days = stats
        .by_day
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let records_height = d.totals.records * 90 / max_records;
            let hours_height = d.totals.duration_seconds * 90 / max_seconds;
            Column {
                label: d.day.format("%m-%d").to_string(),
                x: i * 12,
                records_height,
                records_y: 95 - records_height,
                hours_height,
                hours_y: 95 - hours_height,
                tip: format!("{}: {} / {:.2} h", d.day, d.totals.records, d.totals.hours),
            }
        })
        .collect::<Vec<_>>();
    let width = days.len().max(1) * 12;
    let categories = bars(stats.by_category.iter().map(|c| (c.title.clone(), c.totals.records, c.totals.hours)));
    let media_types =
        bars(stats.by_media_type.iter().map(|m| (m.media_type.as_str().to_owned(), m.totals.records, m.totals.hours)));
    let contributors = bars(stats.top_contributors.iter().map(|c| (c.name.clone(), c.totals.records, c.totals.hours)));
    let page = DashboardPage {
        layout: Layout::for_user(&user, "dashboard"),
        stats,
        days,
        width,
        sections: vec![
            ("per_category", categories),
            ("per_media_type", media_types),
            ("top_contributors", contributors),
        ],
    };
    Ok(render(&page))
}
