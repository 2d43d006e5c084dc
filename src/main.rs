//! The `corpus` binary: parse the command line, load the configuration, dispatch.

use std::process::ExitCode;

use clap::Parser;
use corpus_te::cli::Cli;

fn main() -> ExitCode {
    // `.env` is optional; variables already set in the environment win.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    corpus_te::cli::run(cli)
}
