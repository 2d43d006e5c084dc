//! Runs the real `corpus` binary, black-box, against a test database.

use std::{
    io::Write,
    process::{Command, Output, Stdio},
};

/// Result of one run of the binary.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// stdout and stderr together, for assertions and failure messages.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// A `corpus` command with a clean environment pointing at `database_url`, run from an empty
/// directory (so no developer `.env` leaks in).
pub fn corpus(database_url: &str, storage_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_corpus"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("STORAGE_DIR", storage_dir)
        .env("DB_WAIT_SECONDS", "5")
        .env("LOG_LEVEL", "warn")
        .current_dir(storage_dir.parent().unwrap_or(storage_dir))
        .stdin(Stdio::null());
    cmd
}

/// Runs `corpus <args>` and collects its output.
pub fn run(database_url: &str, storage_dir: &std::path::Path, args: &[&str]) -> Run {
    corpus(database_url, storage_dir).args(args).output().expect("run corpus").into()
}

/// Runs `corpus <args>` feeding `input` on stdin.
pub fn run_with_input(database_url: &str, storage_dir: &std::path::Path, args: &[&str], input: &str) -> Run {
    let mut child = corpus(database_url, storage_dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn corpus");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap().into()
}
