//! `corpus jobs ...`: look at and steer background jobs; `backfill-duration` runs in this process.

use std::process::ExitCode;

use clap::Subcommand;
use uuid::Uuid;

use crate::{
    config::Config,
    db::jobs::{self as queue, JobRow},
    jobs::kinds::media::{BackfillOptions, backfill},
    ops::progress::Progress,
    state::AppState,
};

/// Jobs commands.
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Jobs, newest first.
    List {
        /// Only jobs in this state (PENDING, STARTED, PROGRESS, SUCCESS, FAILURE, REVOKED); repeatable.
        #[arg(long = "state")]
        states: Vec<String>,
        /// Only jobs of this kind.
        #[arg(long)]
        kind: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// One job in full (JSON).
    Show {
        /// Job id.
        id: Uuid,
    },
    /// Run a finished (FAILURE, REVOKED or SUCCESS) job again from its first attempt.
    Retry {
        /// Job id.
        id: Uuid,
    },
    /// Cancel a job that has not finished (a running one is stopped by its worker).
    Cancel {
        /// Job id.
        id: Uuid,
    },
    /// Time every audio/video record with no or an implausible duration from its stored file
    /// (records taken over from the original), here and now, with progress on a terminal.
    BackfillDuration {
        /// Time the files but write nothing.
        #[arg(long)]
        dry_run: bool,
        /// At most this many records (0 = all).
        #[arg(long, default_value_t = 0)]
        limit: u64,
        /// audio, video or both.
        #[arg(long, default_value = "both", value_parser = ["audio", "video", "both"])]
        media_type: String,
    },
}

fn line(job: &JobRow) -> String {
    format!(
        "{}  {:<8}  {:<18}  attempts {}/{}  created {}{}",
        job.id,
        job.state,
        job.kind,
        job.attempts,
        job.max_attempts,
        job.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        job.error.as_deref().map(|e| format!("  error: {e}")).unwrap_or_default()
    )
}

/// Runs a jobs command.
pub async fn run(config: &Config, command: JobsCommand) -> anyhow::Result<ExitCode> {
    let pool = super::connect(config).await?;
    let retention = config.jobs.job_result_retention_hours as f64 * 3600.0;
    let code = match command {
        JobsCommand::List { states, kind, limit } => {
            let states: Vec<String> = states.iter().map(|s| s.to_ascii_uppercase()).collect();
            let filter = (!states.is_empty()).then_some(states.as_slice());
            let jobs = queue::list(&pool, filter, kind.as_deref(), None, limit.clamp(1, 10_000)).await?;
            for job in &jobs {
                println!("{}", line(job));
            }
            if jobs.is_empty() {
                eprintln!("no jobs");
            }
            ExitCode::SUCCESS
        }
        JobsCommand::Show { id } => match queue::get(&pool, id).await? {
            Some(job) => {
                println!("{}", serde_json::to_string_pretty(&job)?);
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("error: no job {id}");
                ExitCode::FAILURE
            }
        },
        JobsCommand::Retry { id } => {
            if queue::retry(&pool, id).await? {
                println!("job {id} will run again");
                ExitCode::SUCCESS
            } else {
                eprintln!("error: no finished job {id} (only FAILURE, REVOKED or SUCCESS jobs are retried)");
                ExitCode::FAILURE
            }
        }
        JobsCommand::Cancel { id } => match queue::get(&pool, id).await? {
            None => {
                eprintln!("error: no job {id}");
                ExitCode::FAILURE
            }
            Some(job) if !matches!(job.state.as_str(), "PENDING" | "STARTED" | "PROGRESS") => {
                eprintln!("error: job {id} has already ended ({})", job.state);
                ExitCode::FAILURE
            }
            Some(_) => match queue::cancel(&pool, id, retention).await? {
                Some(state) if state == queue::state::REVOKED => {
                    println!("job {id} cancelled");
                    ExitCode::SUCCESS
                }
                state => {
                    eprintln!("error: job {id} ended meanwhile ({})", state.unwrap_or_default());
                    ExitCode::FAILURE
                }
            },
        },
        JobsCommand::BackfillDuration { dry_run, limit, media_type } => {
            let media_types = match media_type.as_str() {
                "both" => vec!["audio".to_owned(), "video".to_owned()],
                one => vec![one.to_owned()],
            };
            let state = AppState::new(config.clone(), pool.clone())?;
            let bar = Progress::for_terminal().spinner("timing records");
            let options = BackfillOptions { media_types, limit, dry_run };
            let cancel = tokio_util::sync::CancellationToken::new();
            let report = backfill(&state, &options, &cancel, &|r| {
                bar.set_message(format!("timing records: {} done, {} timed", r.examined, r.timed))
            })
            .await?;
            bar.finish_and_clear();
            println!(
                "{} records examined: {} timed, {} implausible, {} unknown, {} unreadable{}",
                report.examined,
                report.timed,
                report.implausible,
                report.unknown,
                report.failed,
                if dry_run { " (dry run: nothing written)" } else { "" }
            );
            if report.failed > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS }
        }
    };
    pool.close().await;
    Ok(code)
}
