//! The `corpus` command line: `serve`, `healthcheck`, `db ...` and `users ...`.

mod confirm;
pub mod db;
pub mod healthcheck;
pub mod serve;
pub mod users;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;

/// corpus-te: Telugu corpus collection service and its operations commands.
///
/// Every setting can be given as an option before the command or as an environment variable
/// (a `.env` file in the working directory is read too); see `.env.example`.
#[derive(Debug, Parser)]
#[command(name = "corpus", version, propagate_version = true)]
pub struct Cli {
    /// Settings.
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
    /// Database: status, info, init, migrate, seed, reinit, clean.
    #[command(subcommand)]
    Db(db::DbCommand),
    /// Users and roles: list, find, assign/add/remove roles, create the first admin.
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Internal: time one audio file in a capped child process (run by `serve`, not by people).
    #[command(name = "media-probe", hide = true)]
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
            Command::Users(cmd) => users::run(&config, cmd).await,
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
    use clap::CommandFactory;

    #[test]
    fn command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
