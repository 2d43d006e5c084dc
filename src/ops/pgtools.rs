//! The PostgreSQL client tools (`pg_dump`, `pg_restore`): finding the version that suits the
//! server, and telling them where to connect without ever putting the password on their
//! command line (it goes in `PGPASSWORD`, which other users cannot read in `ps`).

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use anyhow::{Context, bail};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use secrecy::{ExposeSecret, SecretString};
use tokio::process::Command;

use crate::config::Config;

/// How long asking a tool for its version may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the tools wait for the server to accept a connection (`PGCONNECT_TIMEOUT`).
const CONNECT_TIMEOUT_SECONDS: &str = "15";

/// URL query parameters libpq understands and that are worth passing on (sqlx-only ones, such as
/// `statement-cache-capacity`, would make libpq refuse the URL; the password goes separately).
const LIBPQ_PARAMS: &[&str] = &[
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslcrl",
    "sslpassword",
    "sslsni",
    "options",
    "target_session_attrs",
    "channel_binding",
    "gssencmode",
    "krbsrvname",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "passfile",
    "hostaddr",
];

/// Where a client tool connects: a libpq URL without the password, and the password apart.
pub struct Target {
    url: String,
    password: Option<SecretString>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target").field("url", &self.url).field("password", &self.password.is_some()).finish()
    }
}

/// Everything but RFC 3986's unreserved characters is percent-encoded in URL components.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

fn enc(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

impl Target {
    /// The configured server, database `database` (the configured one when `None`).
    pub fn from_config(config: &Config, database: Option<&str>) -> anyhow::Result<Self> {
        let options = config.pg_options()?;
        let raw = config.database_url();
        let parsed = url::Url::parse(&raw).context("DATABASE_URL is not a valid URL")?;
        let mut password =
            parsed.password().map(|p| percent_decode_str(p).decode_utf8_lossy().into_owned()).filter(|p| !p.is_empty());
        let mut params = Vec::new();
        for (key, value) in parsed.query_pairs() {
            if key == "password" {
                password = Some(value.into_owned());
            } else if LIBPQ_PARAMS.contains(&key.as_ref()) {
                params.push(format!("{}={}", enc(&key), enc(&value)));
            }
        }
        let database = database.map(str::to_owned).unwrap_or_else(|| crate::db::database_name(&options));
        let host = match options.get_socket() {
            Some(dir) => {
                params.push(format!("host={}", enc(&dir.to_string_lossy())));
                String::new()
            }
            None => {
                let host = options.get_host();
                // An IPv6 literal needs brackets in a URL.
                if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.to_owned() }
            }
        };
        params.push(format!("port={}", options.get_port()));
        params.push("application_name=corpus-te".into());
        let url =
            format!("postgresql://{}@{}/{}?{}", enc(options.get_username()), host, enc(&database), params.join("&"));
        Ok(Self { url, password: password.map(SecretString::from) })
    }

    /// Points `cmd` at the target: `--dbname=<url without password>`, the password in
    /// `PGPASSWORD` (when there is one), a connection timeout, and never a password prompt.
    pub fn apply(&self, cmd: &mut Command) {
        cmd.arg(format!("--dbname={}", self.url))
            .arg("--no-password")
            .env("PGCONNECT_TIMEOUT", CONNECT_TIMEOUT_SECONDS);
        if let Some(password) = &self.password {
            cmd.env("PGPASSWORD", password.expose_secret());
        }
    }
}

/// A `pg_dump` / `pg_restore` pair of one PostgreSQL version.
#[derive(Debug, Clone)]
pub struct Tools {
    /// `pg_dump`.
    pub pg_dump: PathBuf,
    /// `pg_restore`, beside it.
    pub pg_restore: PathBuf,
    /// Their major version.
    pub major: u32,
    /// Their full version line (`pg_dump (PostgreSQL) 15.20`).
    pub version: String,
}

/// Major version of a server from `server_version_num` (`150020` → 15).
pub fn server_major(server_version_num: i32) -> u32 {
    (server_version_num.max(0) / 10000) as u32
}

/// Parses the major version out of `pg_dump --version` output (`pg_dump (PostgreSQL) 15.20 ...`).
fn parse_major(version: &str) -> Option<u32> {
    let after = version.split(')').nth(1).unwrap_or(version);
    after.split(|c: char| !c.is_ascii_digit()).find(|s| !s.is_empty())?.parse().ok()
}

async fn version_of(program: &Path) -> Option<(u32, String)> {
    let mut cmd = Command::new(program);
    cmd.arg("--version").stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null()).kill_on_drop(true);
    let output = tokio::time::timeout(VERSION_TIMEOUT, cmd.output()).await.ok()?.ok()?;
    if !output.status.success() {
        return None;
    }
    let line = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    Some((parse_major(&line)?, line))
}

/// Candidate directories: each `/usr/lib/postgresql/<version>/bin`, then every `PATH` entry.
fn candidate_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = entries.flatten().map(|e| e.path().join("bin")).collect();
        versions.sort();
        dirs.extend(versions);
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs
}

/// Finds `pg_dump` and `pg_restore` for a server of major version `server_major`: the same
/// version when installed, else the oldest newer one (a newer pg_dump reads an older server; an
/// older one refuses a newer server).
pub async fn find(server_major: u32) -> anyhow::Result<Tools> {
    let mut found: Vec<Tools> = Vec::new();
    for dir in candidate_dirs() {
        let (pg_dump, pg_restore) = (dir.join("pg_dump"), dir.join("pg_restore"));
        if !pg_dump.is_file() || !pg_restore.is_file() {
            continue;
        }
        if let Some((major, version)) = version_of(&pg_dump).await {
            found.push(Tools { pg_dump, pg_restore, major, version });
        }
    }
    if let Some(exact) = found.iter().find(|t| t.major == server_major) {
        return Ok(exact.clone());
    }
    if let Some(newer) = found.iter().filter(|t| t.major > server_major).min_by_key(|t| t.major) {
        return Ok(newer.clone());
    }
    let seen: Vec<String> = found.iter().map(|t| format!("{} ({})", t.pg_dump.display(), t.major)).collect();
    if seen.is_empty() {
        bail!(
            "pg_dump and pg_restore were not found on PATH or in /usr/lib/postgresql/*/bin: install the PostgreSQL \
             client tools (Debian: apt-get install postgresql-client-{server_major})"
        );
    }
    bail!(
        "the PostgreSQL client tools found are older than the server ({server_major}): {}; install \
         postgresql-client-{server_major}",
        seen.join(", ")
    )
}

/// Runs a client tool to its end; fails with its exit status and what it wrote on stderr.
pub async fn run(mut cmd: Command, what: &str) -> anyhow::Result<()> {
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).kill_on_drop(true);
    let output = cmd.output().await.with_context(|| format!("starting {what}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        bail!("{what} failed ({}): {}", output.status, stderr.trim());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_major_version_is_read_from_the_version_line() {
        assert_eq!(parse_major("pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"), Some(15));
        assert_eq!(parse_major("pg_restore (PostgreSQL) 9.6.24"), Some(9));
        assert_eq!(parse_major("pg_dump (PostgreSQL) 17beta1"), Some(17));
        assert_eq!(parse_major("nonsense"), None);
        assert_eq!(server_major(150020), 15);
        assert_eq!(server_major(90624), 9);
    }

    fn target(url: &str) -> Target {
        let config = Config::from_args(["--database-url", url]).unwrap();
        Target::from_config(&config, None).unwrap()
    }

    #[test]
    fn the_password_never_reaches_the_url() {
        let t =
            target("postgres://app:p%40ss%2Fw0rd@db.example:6543/corpus?sslmode=require&statement-cache-capacity=10");
        assert!(!t.url.contains("p%40ss") && !t.url.contains("p@ss"), "{}", t.url);
        assert_eq!(t.password.as_ref().map(|p| p.expose_secret().to_owned()).as_deref(), Some("p@ss/w0rd"));
        assert_eq!(t.url, "postgresql://app@db.example/corpus?sslmode=require&port=6543&application_name=corpus-te");
        assert!(!format!("{t:?}").contains("p@ss"));

        let t = target("postgres://app@localhost/corpus?password=s3cret");
        assert_eq!(t.password.as_ref().map(|p| p.expose_secret().to_owned()).as_deref(), Some("s3cret"));
        assert!(!t.url.contains("s3cret"));
    }

    #[test]
    fn the_password_goes_to_the_environment_never_to_the_arguments() {
        let t = target("postgres://app:hunter2-secret@localhost/corpus");
        let mut cmd = Command::new("pg_dump");
        t.apply(&mut cmd);
        let args: Vec<String> = cmd.as_std().get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        assert!(args.iter().all(|a| !a.contains("hunter2")), "{args:?}");
        assert!(args.contains(&"--no-password".to_owned()), "never prompts: {args:?}");
        let envs: Vec<(String, String)> = cmd
            .as_std()
            .get_envs()
            .filter_map(|(k, v)| Some((k.to_string_lossy().into_owned(), v?.to_string_lossy().into_owned())))
            .collect();
        assert!(envs.contains(&("PGPASSWORD".to_owned(), "hunter2-secret".to_owned())), "{envs:?}");
        assert!(envs.iter().any(|(k, _)| k == "PGCONNECT_TIMEOUT"));
    }

    #[test]
    fn another_database_and_a_socket_directory_are_expressed_in_the_url() {
        let config = Config::from_args(["--database-url", "postgres://postgres@localhost/corpus_te"]).unwrap();
        let t = Target::from_config(&config, Some("other db")).unwrap();
        assert!(t.url.starts_with("postgresql://postgres@localhost/other%20db?"), "{}", t.url);
        assert!(t.password.is_none());
        let t = target("postgres://postgres@localhost/corpus_te?host=/var/run/postgresql");
        assert!(t.url.starts_with("postgresql://postgres@/corpus_te?host=%2Fvar%2Frun%2Fpostgresql"), "{}", t.url);
    }
}
