//! The `corpus` command line: `serve`, `healthcheck`, `db ...`, `storage ...`, `users ...` and `export ...`.

mod backup;
mod confirm;
pub mod db;
pub mod export;
pub mod healthcheck;
pub mod jobs;
pub mod serve;
pub mod signal;
pub mod storage;
pub mod users;
pub mod worker;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;

/// corpus-te: Telugu corpus collection service and its operations commands.
///
/// Every setting can be given as an option, after the command (`corpus serve --bind 127.0.0.1:9000`)
/// or before it, or as an environment variable (a `.env` file in the working directory is read
/// too); an option wins over the environment. See `.env.example`.
#[derive(Debug, Parser)]
#[command(name = "corpus", version, propagate_version = true)]
pub struct Cli {
    /// Settings (every one `global`: accepted before and after the command name).
    #[command(flatten)]
    pub config: Config,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (in development, initialise the database first).
    Serve,
    /// Exit 0 when the local server answers `GET /health` (for container health checks).
    Healthcheck(healthcheck::Args),
    /// Database: status, info, init, migrate, seed, reinit, clean, backup, restore.
    #[command(subcommand)]
    Db(db::DbCommand),
    /// Stored objects: verify them against the records, find and delete orphans.
    #[command(subcommand)]
    Storage(storage::StorageCommand),
    /// Run background jobs (and the scheduler of periodic jobs) until SIGTERM / Ctrl-C.
    Worker(worker::Args),
    /// Background jobs: list, show, retry, cancel; backfill-duration.
    #[command(subcommand)]
    Jobs(jobs::JobsCommand),
    /// Users and roles: list, find, assign/add/remove roles, create the first admin.
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Exports: the dataset (selected records' media as a tar archive, with a manifest).
    #[command(subcommand)]
    Export(export::ExportCommand),
    /// Internal: time one audio file in a capped child process (run by `serve`, not by people).
    #[command(name = crate::media::probe::SUBCOMMAND, hide = true)]
    MediaProbe(MediaProbeArgs),
}

/// Arguments of the hidden `media-probe` command.
#[derive(Debug, clap::Args)]
pub struct MediaProbeArgs {
    /// Sniffed format, as its stored extension (`.mp3`, `.wav`, ...).
    #[arg(long)]
    format: String,
    /// Address-space cap to set before reading the file.
    #[arg(long)]
    memory_bytes: u64,
    /// The file.
    path: std::path::PathBuf,
}

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    // Before any runtime or thread exists: the child caps its own address space and stays small.
    let command = match cli.command {
        Command::MediaProbe(args) => {
            return crate::media::probe::run_child(&args.path, &args.format, args.memory_bytes);
        }
        command => command,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: starting the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let config = cli.config;
    let result = runtime.block_on(async move {
        match command {
            Command::Serve => serve::run(config).await.map(|()| ExitCode::SUCCESS),
            Command::Healthcheck(args) => healthcheck::run(&config, args).await,
            Command::Db(cmd) => db::run(&config, cmd).await,
            Command::Storage(cmd) => storage::run(&config, cmd).await,
            Command::Users(cmd) => users::run(&config, cmd).await,
            Command::Worker(args) => worker::run(config, args).await.map(|()| ExitCode::SUCCESS),
            Command::Jobs(cmd) => jobs::run(&config, cmd).await,
            Command::Export(cmd) => export::run(&config, cmd).await,
            // Handled above, before the runtime started.
            Command::MediaProbe(_) => Ok(ExitCode::FAILURE),
        }
    });
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Validates the configuration and opens the pool, for commands that need the database.
async fn connect(config: &Config) -> anyhow::Result<sqlx::PgPool> {
    config.validate()?;
    crate::db::connect(config).await
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::{Cli, Command};
    use crate::config::StorageBackend;

    #[test]
    fn command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    #[test]
    fn settings_are_accepted_after_the_command_as_well_as_before_it() {
        let after = parse(&["corpus", "serve", "--bind", "127.0.0.1:0", "--max-file-size", "1000"]);
        assert!(matches!(after.command, Command::Serve));
        assert_eq!(after.config.http.bind.to_string(), "127.0.0.1:0");
        assert_eq!(after.config.uploads.max_file_size, 1000);
        let before = parse(&["corpus", "--bind", "127.0.0.1:9000", "serve"]);
        assert_eq!(before.config.http.bind.to_string(), "127.0.0.1:9000");
        // After a nested command too, and a later option wins over an earlier one.
        let nested = parse(&[
            "corpus",
            "--storage-dir",
            "/srv/a",
            "db",
            "clean",
            "--yes",
            "--storage-backend",
            "local",
            "--storage-dir",
            "/srv/b",
        ]);
        assert!(matches!(nested.command, Command::Db(super::db::DbCommand::Clean { yes: true })));
        assert_eq!(nested.config.storage.storage_dir, std::path::PathBuf::from("/srv/b"));
        assert_eq!(nested.config.storage.storage_backend, Some(StorageBackend::Local));
        let healthcheck = parse(&["corpus", "healthcheck", "--timeout", "1", "--bind", "127.0.0.1:8123"]);
        assert_eq!(healthcheck.config.http.bind.port(), 8123);
        // A secret given after the command still lands in its redacting field.
        let secret = parse(&["corpus", "serve", "--app-secret-key", "after-the-command-secret-0123456789"]);
        assert!(secret.config.security.app_secret_key.is_some());
        assert!(!format!("{secret:?}").contains("after-the-command-secret"));
        // Unknown options and bad values are still refused, wherever they are.
        assert!(Cli::try_parse_from(["corpus", "serve", "--no-such-setting", "1"]).is_err());
        assert!(Cli::try_parse_from(["corpus", "serve", "--bind", "not-an-address"]).is_err());
    }

    #[test]
    fn each_command_help_lists_the_settings() {
        for command in ["serve", "healthcheck", "db", "storage", "users", "export"] {
            let err = Cli::try_parse_from(["corpus", command, "--help"]).unwrap_err();
            assert_eq!(err.kind(), clap::error::ErrorKind::DisplayHelp);
            let help = err.to_string();
            for needle in ["--bind", "CORPUS_BIND", "--database-url", "--max-file-size", "--otp-api-key", "Database:"] {
                assert!(help.contains(needle), "`corpus {command} --help` lacks {needle}");
            }
        }
    }
}
