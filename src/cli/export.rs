//! `corpus export dataset`: the selected records' media as a tar archive plus a JSON Lines and
//! CSV manifest, written to a local directory or to the service's storage under `exports/`.

use std::{path::PathBuf, process::ExitCode, time::Instant};

use clap::Subcommand;
use indicatif::BinaryBytes;
use tokio_util::sync::CancellationToken;

use crate::{
    config::Config,
    domain::MediaType,
    exports::{
        self, Cancelled, Output, Selection,
        selection::{RangeEnd, parse_bbox, parse_date, parse_media_type},
    },
    ops::progress::Progress,
    storage::Storage,
};

/// Export commands.
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// The selected records (all by default) as `media.tar` (their files, at
    /// `media/<media_type>/<record id><ext>`), `manifest.jsonl` and `manifest.csv` (id, path,
    /// sha256, size, duration, mime type, media type, language, category, location,
    /// release rights, review status, created at). Every file is checked against its record's
    /// size and SHA-256 as it is archived; a file that fails is reported and left out of the
    /// manifest, and the command exits 1. Filters combine; a repeated filter matches any value.
    Dataset(DatasetArgs),
}

/// Arguments of `export dataset`.
#[derive(Debug, clap::Args)]
pub struct DatasetArgs {
    /// Only records of this category (name or id); repeatable.
    #[arg(long = "category", value_name = "NAME|ID")]
    pub categories: Vec<String>,
    /// Only records of this media type (text, audio, video, image, document); repeatable.
    #[arg(long = "media-type", value_name = "TYPE", value_parser = parse_media_type)]
    pub media_types: Vec<MediaType>,
    /// Only records in this language, as stored (`te`, `Telugu`, ...); repeatable.
    #[arg(long = "language", value_name = "LANGUAGE")]
    pub languages: Vec<String>,
    /// Only records in this review state; repeatable.
    #[arg(long = "review-status", value_name = "STATE",
          value_parser = ["unreviewed", "approved", "rejected", "reviewed"])]
    pub review_states: Vec<String>,
    /// Only records created on or after this day (YYYY-MM-DD, UTC) or time (RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Only records created on or before this day (YYYY-MM-DD, UTC, the whole day) or before
    /// this time (RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Only records located in this box (degrees, boundary included).
    #[arg(long, value_name = "MINLON,MINLAT,MAXLON,MAXLAT", value_parser = parse_bbox, allow_hyphen_values = true)]
    pub bbox: Option<[f64; 4]>,
    /// A directory (created, or one holding none of the export's file names), or `s3` for the
    /// service's storage (S3 or local, as configured) under `exports/dataset-<time>-<id>/`.
    #[arg(long, value_name = "DIR|s3")]
    pub out: String,
}

impl DatasetArgs {
    fn selection(&self) -> anyhow::Result<Selection> {
        let selection = Selection {
            categories: self.categories.clone(),
            media_types: self.media_types.clone(),
            languages: self.languages.clone(),
            review_states: self.review_states.clone(),
            from: self.from.as_deref().map(|d| parse_date(d, RangeEnd::Start)).transpose()?,
            to: self.to.as_deref().map(|d| parse_date(d, RangeEnd::End)).transpose()?,
            bbox: self.bbox,
        };
        selection.validate()?;
        Ok(selection)
    }

    fn output(&self) -> Output {
        match self.out.as_str() {
            "s3" | "storage" => Output::new_storage(),
            dir => Output::Directory(PathBuf::from(dir)),
        }
    }
}

/// Runs an export command.
pub async fn run(config: &Config, command: ExportCommand) -> anyhow::Result<ExitCode> {
    let ExportCommand::Dataset(args) = command;
    let selection = args.selection()?;
    let pool = super::connect(config).await?;
    let storage = Storage::from_config(config)?;
    let bar = Progress::for_terminal().bytes("export", 0);
    let progress = |current: u64, total: u64, status: &str| {
        bar.set_length(total);
        bar.set_position(current);
        bar.set_message(status.to_owned());
    };
    let cancel = CancellationToken::new();
    let started = Instant::now();
    let export = exports::run(&pool, &storage, &selection, args.output(), progress, cancel.clone());
    tokio::pin!(export);
    // Interrupted, the export is cancelled and waited for: it removes what it wrote.
    let result = tokio::select! {
        result = &mut export => result,
        () = super::signal::shutdown_signal() => {
            cancel.cancel();
            export.await
        }
    };
    bar.finish_and_clear();
    let summary = match result {
        Ok(summary) => summary,
        Err(e) if e.is::<Cancelled>() => anyhow::bail!("interrupted: nothing was written"),
        Err(e) => return Err(e),
    };
    let secs = started.elapsed().as_secs_f64().max(0.001);
    println!(
        "exported {} record(s) of {} selected: {} file(s), {} in {:.1} s ({:.1} MB/s)",
        summary.records,
        summary.selected,
        summary.files,
        BinaryBytes(summary.bytes),
        secs,
        summary.bytes as f64 / 1e6 / secs
    );
    println!("  archive:  {}", summary.archive);
    println!("  manifest: {}", summary.manifest_jsonl);
    println!("  manifest: {}", summary.manifest_csv);
    if !summary.deleted_meanwhile.is_empty() {
        println!("  note: {} record(s) deleted while the export ran were left out", summary.deleted_meanwhile.len());
    }
    if summary.problems.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for problem in &summary.problems {
        println!("  PROBLEM {problem}");
    }
    eprintln!(
        "error: {} file(s) differ from their records or are missing; they are not in the manifest (run `corpus storage \
         verify`)",
        summary.problems.len()
    );
    Ok(ExitCode::FAILURE)
}
