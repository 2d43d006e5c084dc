//! The `corpus` binary: parse the command line, load the configuration, dispatch.

use std::process::ExitCode;

use clap::Parser;
use corpus_te::cli::Cli;

// Memory freed after a burst (many uploads at once) goes back to the system in seconds: jemalloc's
// background threads purge unused pages on a timer, where glibc's malloc kept them for good. Its
// options are compiled in (`JEMALLOC_SYS_WITH_MALLOC_CONF` in `.cargo/config.toml`, which says why).
#[cfg(all(target_os = "linux", not(target_env = "musl")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    // `.env` is optional; variables already set in the environment win.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    corpus_te::cli::run(cli)
}
