//! The dataset export as a task: `POST /tasks/export-dataset` (admins) queues an
//! `export_dataset` job for the records its filters select; `GET /tasks/status/{id}` gives signed
//! download links for `media.tar`, `manifest.jsonl` and `manifest.csv` once it succeeded, and
//! `GET /tasks/exports/{id}/download` serves them to the admin who started it or another admin.

use axum::{Json, extract::State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::shared::{TaskResponse, enqueue};
use crate::{
    auth::{Auth, roles::AdminOnly},
    error::{AppError, ErrorDetail, Result, ValidationErrorBody},
    exports::{
        Selection,
        selection::{RangeEnd, SelectionError, parse_date, parse_media_type},
    },
    http::{ValidJson, Validate, Validator},
    jobs::kinds::dataset,
    state::AppState,
};

/// Most values one filter list takes.
const LIST_MAX: usize = 100;

/// The records a dataset export takes: every filter given must hold; a list matches any of its
/// values; an empty body exports every record.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ExportDatasetRequest {
    /// Categories, by name or id.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Media types (`text`, `audio`, `video`, `image`, `document`).
    #[serde(default)]
    pub media_types: Vec<String>,
    /// Languages, exactly as stored.
    #[serde(default)]
    pub languages: Vec<String>,
    /// Review states (`unreviewed`, `approved`, `rejected`, `reviewed`).
    #[serde(default)]
    pub review_status: Vec<String>,
    /// Created at or after: `YYYY-MM-DD` (that day's start, UTC) or an RFC 3339 time.
    #[serde(default)]
    pub from: Option<String>,
    /// Created before: `YYYY-MM-DD` (the whole day included) or an RFC 3339 time.
    #[serde(default)]
    pub to: Option<String>,
    /// `[minlon, minlat, maxlon, maxlat]` in degrees (boundary included).
    #[serde(default)]
    pub bbox: Option<Vec<f64>>,
}

/// One refused filter: the field (a dotted path), the message and the value given.
pub type FilterError = (String, String, Value);

fn trimmed(values: &[String]) -> Vec<String> {
    values.iter().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).collect()
}

impl ExportDatasetRequest {
    /// The selection these filters describe, or every filter that is wrong.
    pub fn selection(&self) -> std::result::Result<Selection, Vec<FilterError>> {
        let mut errors: Vec<FilterError> = Vec::new();
        for (field, list) in [
            ("categories", &self.categories),
            ("media_types", &self.media_types),
            ("languages", &self.languages),
            ("review_status", &self.review_status),
        ] {
            if list.len() > LIST_MAX {
                errors.push((field.into(), format!("at most {LIST_MAX} values"), Value::from(list.len())));
            }
        }
        let mut media_types = Vec::new();
        for (i, raw) in trimmed(&self.media_types).iter().enumerate() {
            match parse_media_type(&raw.to_ascii_lowercase()) {
                Ok(m) if !media_types.contains(&m) => media_types.push(m),
                Ok(_) => {}
                Err(e) => errors.push((format!("media_types.{i}"), e.to_string(), Value::from(raw.clone()))),
            }
        }
        let review_states: Vec<String> = trimmed(&self.review_status).iter().map(|s| s.to_ascii_lowercase()).collect();
        for (i, state) in review_states.iter().enumerate() {
            let one = Selection { review_states: vec![state.clone()], ..Selection::default() };
            if let Err(e) = one.validate() {
                errors.push((format!("review_status.{i}"), e.to_string(), Value::from(state.clone())));
            }
        }
        let mut date = |field: &str, raw: &Option<String>, end: RangeEnd| match raw.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => parse_date(text, end)
                .map_err(|e| errors.push((field.to_owned(), e.to_string(), Value::from(text))))
                .ok(),
        };
        let from = date("from", &self.from, RangeEnd::Start);
        let to = date("to", &self.to, RangeEnd::End);
        let bbox = self.bbox.as_ref().and_then(|values| {
            <[f64; 4]>::try_from(values.as_slice())
                .map_err(|_| {
                    let text = values.iter().map(f64::to_string).collect::<Vec<_>>().join(",");
                    errors.push(("bbox".into(), SelectionError::Bbox(text).to_string(), json!(values)));
                })
                .ok()
        });
        let selection = Selection {
            categories: trimmed(&self.categories),
            media_types,
            languages: trimmed(&self.languages),
            review_states,
            from,
            to,
            bbox,
        };
        if errors.is_empty()
            && let Err(e) = selection.validate()
        {
            let (field, input) = match e {
                SelectionError::EmptyRange => ("to", json!(self.to)),
                _ => ("bbox", json!(self.bbox)),
            };
            errors.push((field.into(), e.to_string(), input));
        }
        if errors.is_empty() { Ok(selection) } else { Err(errors) }
    }
}

impl Validate for ExportDatasetRequest {
    fn validate(&self, v: &mut Validator) {
        if let Err(errors) = self.selection() {
            for (field, msg, input) in errors {
                v.error("value_error", &field, msg, Some(input), None);
            }
        }
    }
}

/// Exports the selected records (admins only) in the background: their media as `media.tar`
/// and their manifest as `manifest.jsonl` and `manifest.csv`, written to storage. Poll
/// `GET /tasks/status/{task_id}` for progress (`current`/`total` bytes); once `SUCCESS`, its
/// result lists the files with signed `download_url`s that the admin who started it, or another
/// admin, can use while the link and the job's retention last.
#[utoipa::path(post, path = "/api/v1/tasks/export-dataset", tag = "tasks", security(("HTTPBearer" = [])),
    request_body = ExportDatasetRequest,
    responses((status = 200, body = TaskResponse), (status = 403, body = ErrorDetail),
        (status = 422, body = ValidationErrorBody)))]
pub async fn export_dataset(
    State(app): State<AppState>,
    caller: Auth<AdminOnly>,
    ValidJson(body): ValidJson<ExportDatasetRequest>,
) -> Result<Json<TaskResponse>> {
    // Already checked by the extractor; refused filters never get here.
    let selection = body.selection().map_err(|_| AppError::BadRequest("Invalid filters".into()))?;
    enqueue(
        &app,
        dataset::KIND,
        dataset::KIND,
        dataset::args(&selection),
        Some(caller.id),
        "Dataset export started".into(),
    )
    .await
}
