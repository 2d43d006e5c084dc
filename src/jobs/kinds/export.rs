//! `export_user_data {format}`: everything held about the job's owner (profile, roles, and every
//! record with its metadata) written privately to storage under `exports/<job id>/`, served only
//! through `GET /tasks/exports/{task_id}/download` to the owner or an admin, with an expiring
//! signed link. JSON always (`user_data.json`); with `format=csv`, the records as CSV too
//! (`records.csv`, one row per record). Files are removed by `cleanup` once the job's retention
//! ends. Re-running the job overwrites the same keys, so it is idempotent.

use std::io::Write;

use serde_json::{Value, json};

use crate::{
    db::{
        accounts,
        records::{self, Filter, Page, RecordRow, Visibility},
    },
    jobs::JobContext,
    storage::objects::export_key,
};

/// Records read per page.
const PAGE: i64 = 500;

/// The formats an export can be asked in.
pub const FORMATS: [&str; 2] = ["json", "csv"];

/// The JSON of one record in an export.
fn record_json(r: &RecordRow) -> Value {
    json!({
        "uid": r.uid,
        "title": r.title,
        "description": r.description,
        "media_type": r.media_type,
        "status": r.status.to_string(),
        "category_id": r.category_id,
        "file_name": r.file_name,
        "file_size": r.file_size,
        "mime_type": r.mime_type,
        "content_sha256": r.content_sha256,
        "duration_seconds": r.duration_seconds,
        "duration_implausible": r.duration_implausible,
        "location": match (r.latitude, r.longitude) {
            (Some(latitude), Some(longitude)) => json!({ "latitude": latitude, "longitude": longitude }),
            _ => Value::Null,
        },
        "language": r.language,
        "release_rights": r.release_rights,
        "metadata": r.metadata,
        "reviewed": r.reviewed,
        "review_status": r.review_status.as_ref().map(|s| s.to_string()),
        "review_note": r.review_note,
        "reviewed_at": r.reviewed_at,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    })
}

/// The CSV columns of `records.csv`.
const CSV_COLUMNS: [&str; 17] = [
    "uid",
    "title",
    "description",
    "media_type",
    "status",
    "category_id",
    "file_name",
    "file_size",
    "mime_type",
    "content_sha256",
    "duration_seconds",
    "latitude",
    "longitude",
    "language",
    "release_rights",
    "metadata",
    "created_at",
];

/// One CSV field, quoted when it must be (RFC 4180).
fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

fn csv_row(r: &RecordRow) -> String {
    let opt = |v: Option<String>| v.unwrap_or_default();
    let fields = [
        r.uid.to_string(),
        r.title.clone(),
        opt(r.description.clone()),
        r.media_type.as_str().to_owned(),
        r.status.to_string(),
        r.category_id.to_string(),
        opt(r.file_name.clone()),
        opt(r.file_size.map(|v| v.to_string())),
        opt(r.mime_type.clone()),
        opt(r.content_sha256.clone()),
        opt(r.duration_seconds.map(|v| v.to_string())),
        opt(r.latitude.map(|v| v.to_string())),
        opt(r.longitude.map(|v| v.to_string())),
        opt(r.language.clone()),
        opt(r.release_rights.clone()),
        opt(r.metadata.as_ref().map(Value::to_string)),
        r.created_at.to_rfc3339(),
    ];
    let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
    format!("{}\r\n", line.join(","))
}

/// Writes the export's files and returns the job's result (the files, their sizes, counts).
pub async fn export_user_data(ctx: JobContext) -> anyhow::Result<Value> {
    let owner = ctx.owner.ok_or_else(|| anyhow::anyhow!("an export needs the user it is for"))?;
    let format = ctx.arg_str("format").unwrap_or("json").to_ascii_lowercase();
    anyhow::ensure!(FORMATS.contains(&format.as_str()), "unknown export format `{format}` (json or csv)");
    let state = &ctx.state;
    ctx.progress(0, 100, "Loading profile...");
    let Some(user) = accounts::get_user(&state.db, owner).await? else {
        anyhow::bail!("user {owner} not found");
    };
    let roles = accounts::roles_of(&state.db, owner).await?;

    // Written to spool files first (records are paged, never all in memory), then stored.
    let dir = crate::storage::spool::spool_dir(state.config.uploads.upload_tmp_dir.as_deref());
    let json_file = crate::storage::spool::locked_temp_file(&dir)?;
    let csv_file = crate::storage::spool::locked_temp_file(&dir)?;
    let mut json_out = std::io::BufWriter::new(json_file.as_file());
    let mut csv_out = std::io::BufWriter::new(csv_file.as_file());
    let header = json!({
        "export_format": format,
        "exported_at": chrono::Utc::now(),
        "user": user,
        "roles": roles,
    });
    // `{...header fields..., "records": [` then one record per line, then `]}`.
    let header_text = serde_json::to_string_pretty(&header)?;
    let open = header_text.trim_end().strip_suffix('}').unwrap_or(&header_text).trim_end();
    write!(json_out, "{open},\n  \"records\": [")?;
    if format == "csv" {
        write!(csv_out, "{}\r\n", CSV_COLUMNS.join(","))?;
    }
    let mut filter = Filter::visible(Visibility::OwnedBy(owner));
    filter.user_id = Some(owner);
    let mut page = Page::Offset { skip: 0, limit: PAGE };
    let mut count: u64 = 0;
    loop {
        ctx.check_cancelled()?;
        let rows = records::list(&state.db, &filter, page).await?;
        for row in &rows {
            let sep = if count == 0 { "\n    " } else { ",\n    " };
            write!(json_out, "{sep}{}", serde_json::to_string(&record_json(row))?)?;
            if format == "csv" {
                csv_out.write_all(csv_row(row).as_bytes())?;
            }
            count += 1;
        }
        ctx.progress(count, count, "Exporting records...");
        let Some(last) = rows.last() else { break };
        if (rows.len() as i64) < PAGE {
            break;
        }
        page = Page::After { created_at: last.created_at, uid: last.uid, limit: PAGE };
    }
    write!(json_out, "{}\n  ],\n  \"record_count\": {count}\n}}\n", if count == 0 { "" } else { "\n  " })?;
    json_out.flush()?;
    csv_out.flush()?;
    drop(json_out);
    drop(csv_out);

    ctx.progress(count, count, "Storing export...");
    let mut files = Vec::new();
    let mut store = |name: &'static str, path: std::path::PathBuf, content_type: &'static str| {
        files.push((name, path, content_type));
    };
    store("user_data.json", json_file.path().to_owned(), "application/json");
    if format == "csv" {
        store("records.csv", csv_file.path().to_owned(), "text/csv; charset=utf-8");
    }
    let mut listed = Vec::new();
    for (name, path, content_type) in files {
        let size = tokio::fs::metadata(&path).await?.len();
        state.storage.put_file(&export_key(ctx.id, name), &path, Some(content_type)).await?;
        listed.push(json!({ "name": name, "size": size, "content_type": content_type }));
    }
    Ok(json!({
        "status": "success",
        "user_id": owner,
        "export_format": format,
        "record_count": count,
        "files": listed,
        "exported_at": chrono::Utc::now(),
    }))
}

/// The stored files of an export job's result: `(name, content type)`.
pub fn result_files(result: &Value) -> Vec<(String, String)> {
    result
        .get("files")
        .and_then(Value::as_array)
        .map(|files| {
            files
                .iter()
                .filter_map(|f| {
                    Some((
                        f.get("name")?.as_str()?.to_owned(),
                        f.get("content_type").and_then(Value::as_str).unwrap_or("application/octet-stream").to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The id a download names must be an export job's own file, never a path: a user data export's
/// (`user_data.json`, `records.csv`) or a dataset export's (`media.tar`, `manifest.jsonl`,
/// `manifest.csv`).
pub fn is_export_file_name(name: &str) -> bool {
    matches!(name, "user_data.json" | "records.csv" | "media.tar" | "manifest.jsonl" | "manifest.csv")
}

/// The job kinds whose results are files under `exports/<job id>/` (declared beside the queue,
/// where the storage audit reads them too).
pub use crate::db::jobs::EXPORT_KINDS;

/// Whether jobs of `kind` hold export files.
pub fn is_export_kind(kind: &str) -> bool {
    EXPORT_KINDS.contains(&kind)
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(csv_field("తెలుగు"), "తెలుగు");
    }
}

#[cfg(test)]
mod export_kind_tests {
    #[test]
    fn both_export_jobs_hold_their_files() {
        for kind in ["export_user_data", super::super::dataset::KIND] {
            assert!(super::EXPORT_KINDS.contains(&kind), "{kind}");
        }
    }
}
