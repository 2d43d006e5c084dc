//! `export_dataset {selection}`: an admin's dataset export (see [`crate::exports::dataset`]) run
//! by the worker, written to storage under `exports/<job id>/` (`media.tar`, `manifest.jsonl`,
//! `manifest.csv`), served like the user data export through
//! `GET /tasks/exports/{task_id}/download` to the admin who started it or another admin. A re-run
//! writes the same keys, so the job is idempotent; `cleanup` removes the files once the job's
//! retention ends.

use serde_json::{Value, json};

use crate::{
    exports::{
        self, Output, Selection,
        dataset::{ARCHIVE_FILE, MANIFEST_CSV, MANIFEST_JSONL},
    },
    jobs::JobContext,
    storage::objects::export_key,
};

/// The kind's stored name.
pub const KIND: &str = "export_dataset";

/// The files of a dataset export and their content types.
pub const FILES: [(&str, &str); 3] = [
    (ARCHIVE_FILE, "application/x-tar"),
    (MANIFEST_JSONL, "application/x-ndjson"),
    (MANIFEST_CSV, "text/csv; charset=utf-8"),
];

/// The job's arguments for `selection`.
pub fn args(selection: &Selection) -> Value {
    json!({ "selection": selection })
}

/// Runs the export and returns the job's result: its files with their sizes, the records and
/// bytes exported and the problems found.
pub async fn export_dataset(ctx: JobContext) -> anyhow::Result<Value> {
    let selection: Selection = match ctx.args.get("selection") {
        Some(value) => serde_json::from_value(value.clone())?,
        None => Selection::default(),
    };
    let state = &ctx.state;
    let output = Output::Storage { name: ctx.id.to_string() };
    let summary =
        exports::run(&state.db, &state.storage, &selection, output, ctx.progress_fn(), ctx.cancel.clone()).await?;
    let mut files = Vec::with_capacity(FILES.len());
    for (name, content_type) in FILES {
        let size = state.storage.size(&export_key(ctx.id, name)).await?;
        files.push(json!({ "name": name, "content_type": content_type, "size": size }));
    }
    Ok(json!({
        "status": "success",
        "files": files,
        "selected": summary.selected,
        "records": summary.records,
        "media_files": summary.files,
        "bytes": summary.bytes,
        "problems": summary.problems,
        "deleted_meanwhile": summary.deleted_meanwhile,
        "exported_at": chrono::Utc::now(),
    }))
}
