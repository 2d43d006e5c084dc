//! Configuration: read once from the environment (and an optional `.env`), typed and validated.
//!
//! Every setting is a clap argument with an `env` name, so `corpus --help` documents all of them.
//! Names follow the original service where it had one (`DATABASE_URL`, `DB_*`, `APP_SECRET_KEY`,
//! `HZ_OBJ_*`, `OTP_*`, ...). Tests build a [`Config`] in code with [`Config::from_args`].

use std::{
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    str::FromStr,
    time::Duration,
};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::PgConnectOptions;

/// The original's default JWT secret; refused outside development.
pub const ORIGINAL_DEFAULT_SECRET: &str = "change-in-production";

/// The shortest `APP_SECRET_KEY` production accepts, in bytes (HS256 keys should be at least as
/// long as the hash, RFC 7518 §3.2).
pub const MIN_SECRET_BYTES: usize = 32;

/// The longest validity S3 allows for a presigned URL (SigV4: 7 days).
pub const MAX_PRESIGNED_SECONDS: u64 = 7 * 24 * 60 * 60;

/// Deployment mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Environment {
    /// Local work: `serve` initialises the database itself, the `log` SMS provider is allowed and
    /// a missing secret falls back to the original's default with a warning.
    Development,
    /// Real deployments: a real secret is required and nothing is done implicitly.
    Production,
}

/// Where uploaded files are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StorageBackend {
    /// A local directory (`STORAGE_DIR`).
    Local,
    /// An S3-compatible bucket (`HZ_OBJ_*`: Hetzner, MinIO, AWS).
    S3,
}

/// How `GET /records/{id}/file` hands a file over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FileDownload {
    /// The API streams the object's bytes itself (any storage backend).
    Proxy,
    /// The API answers 307 to a short-lived presigned URL of the object (S3 storage only), so the
    /// bytes go from the bucket to the client without passing through the API.
    Redirect,
}

/// How SMS messages carrying one-time codes are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SmsProvider {
    /// The original's Ozonetel form POST to `OTP_SERVICE_URL`.
    Ozonetel,
    /// JSON POST `{"phone_number","message","code"}` to `OTP_WEBHOOK_URL`.
    Webhook,
    /// Write the code to the log. Development only.
    Log,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Every setting of the service, grouped by concern.
///
/// Each group is flattened into the command line, so the option names (`--bind`, `--db-host`,
/// ...) and environment variables are those of a flat list. Every option is `global`: it is
/// accepted before the command (`corpus --bind A serve`) and after it (`corpus serve --bind A`),
/// and listed by each command's `--help`. Secrets are held in redacting types, so `{:?}` of a
/// configuration never shows them.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// development or production.
    #[arg(long, env = "CORPUS_ENV", value_enum, default_value = "development", global = true)]
    pub corpus_env: Environment,
    /// PostgreSQL connection and pool.
    #[command(flatten)]
    pub database: DatabaseSettings,
    /// The HTTP server: address, connection timeouts, shutdown, CORS.
    #[command(flatten)]
    pub http: HttpSettings,
    /// Token signing.
    #[command(flatten)]
    pub security: SecuritySettings,
    /// Where files are stored and how their URLs are built.
    #[command(flatten)]
    pub storage: StorageSettings,
    /// Upload limits, spooling, cleanup and media timing.
    #[command(flatten)]
    pub uploads: UploadSettings,
    /// Redis and the rate limits it shares.
    #[command(flatten)]
    pub limits: LimitSettings,
    /// One-time codes and the SMS gateway.
    #[command(flatten)]
    pub otp: OtpSettings,
    /// Log filter and format.
    #[command(flatten)]
    pub log: LogSettings,
    /// The Prometheus metrics endpoint.
    #[command(flatten)]
    pub metrics: MetricsSettings,
    /// Rotating and scheduled backups.
    #[command(flatten)]
    pub backups: BackupSettings,
    /// Background jobs: worker, scheduler, retries, results.
    #[command(flatten)]
    pub jobs: JobSettings,
}

/// PostgreSQL settings.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Database")]
pub struct DatabaseSettings {
    /// Full PostgreSQL URL; when unset it is built from DB_HOST, DB_PORT, DB_NAME, DB_USER and DB_PASSWORD.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<SecretUrl>,
    /// PostgreSQL host (used when DATABASE_URL is unset).
    #[arg(long, env = "DB_HOST", default_value = "localhost", global = true)]
    pub db_host: String,
    /// PostgreSQL port (used when DATABASE_URL is unset).
    #[arg(long, env = "DB_PORT", default_value_t = 5432, global = true)]
    pub db_port: u16,
    /// Database name (used when DATABASE_URL is unset).
    #[arg(long, env = "DB_NAME", default_value = "corpus_te", global = true)]
    pub db_name: String,
    /// PostgreSQL user (used when DATABASE_URL is unset).
    #[arg(long, env = "DB_USER", default_value = "postgres", global = true)]
    pub db_user: String,
    /// PostgreSQL password (used when DATABASE_URL is unset).
    #[arg(long, env = "DB_PASSWORD", hide_env_values = true, global = true)]
    pub db_password: Option<SecretString>,
    /// Largest number of pooled database connections per process.
    #[arg(long, env = "DB_POOL_SIZE", default_value_t = 10, global = true)]
    pub db_pool_size: u32,
    /// How long `db init` (and `serve` in development) waits for PostgreSQL to accept connections.
    #[arg(long, env = "DB_WAIT_SECONDS", default_value_t = 60, global = true)]
    pub db_wait_seconds: u64,
    /// How long a request waits for a pooled database connection before it answers 503 with
    /// `Retry-After` (the database is unreachable or every connection is busy).
    #[arg(long, env = "DB_ACQUIRE_TIMEOUT_SECONDS", default_value_t = 5, global = true)]
    pub db_acquire_timeout_seconds: u64,
}

/// HTTP server settings.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "HTTP server")]
pub struct HttpSettings {
    /// Address the API listens on.
    #[arg(long = "bind", env = "CORPUS_BIND", default_value = "0.0.0.0:8000", global = true)]
    pub bind: SocketAddr,
    /// Application name shown by `GET /`.
    #[arg(long, env = "PROJECT_NAME", default_value = "Telugu Corpus Collections API", global = true)]
    pub project_name: String,
    /// Comma-separated origins allowed by CORS, or `*` for any origin (never with credentials).
    #[arg(long, env = "BACKEND_CORS_ORIGINS", default_value = "*", global = true)]
    pub backend_cors_origins: String,
    /// Seconds a client has to send a complete request head (from the connection's start, or
    /// from the first byte of a later request); slower ones are disconnected (slowloris).
    #[arg(long, env = "HTTP_HEADER_TIMEOUT_SECONDS", default_value_t = 30, global = true)]
    pub http_header_timeout_seconds: u64,
    /// Seconds a connection may stay idle between requests before it is closed.
    #[arg(long, env = "HTTP_KEEPALIVE_TIMEOUT_SECONDS", default_value_t = 75, global = true)]
    pub http_keepalive_timeout_seconds: u64,
    /// Seconds a request body (or a response the client does not read) may make no progress
    /// before the connection is cut; a stalled upload then leaves nothing behind.
    #[arg(long, env = "HTTP_BODY_IDLE_TIMEOUT_SECONDS", default_value_t = 60, global = true)]
    pub http_body_idle_timeout_seconds: u64,
    /// Seconds in-flight requests get to finish after SIGTERM / Ctrl-C; then they are abandoned
    /// (their uploads leave no row, object or spool file) and the process exits.
    #[arg(long, env = "SHUTDOWN_GRACE_SECONDS", default_value_t = 20, global = true)]
    pub shutdown_grace_seconds: u64,
    /// Bytes of a request body still read (and discarded) after an early answer such as 413 or
    /// 401, so that clients which send the whole body before reading see the answer.
    #[arg(long, env = "REFUSED_BODY_DRAIN_BYTES", default_value_t = 64 * 1024 * 1024, global = true)]
    pub refused_body_drain_bytes: u64,
    /// Seconds spent at most reading (and discarding) such a body.
    #[arg(long, env = "REFUSED_BODY_DRAIN_SECONDS", default_value_t = 60, global = true)]
    pub refused_body_drain_seconds: u64,
    /// Seconds a page of `GET /records/` may be answered from memory; 0 reads every page from the
    /// database. Any change to records empties it at once in every process (PostgreSQL
    /// notifications); this bounds staleness should they stop.
    #[arg(long, env = "RECORD_LIST_CACHE_SECONDS", default_value_t = 30, global = true)]
    pub record_list_cache_seconds: u64,
    /// Seconds the category lists (`GET /categories/`) may be answered from memory; 0 reads them
    /// from the database every time. Any change to categories empties them at once in every
    /// process (PostgreSQL notifications); this bounds staleness should they stop.
    #[arg(long, env = "CATEGORY_CACHE_SECONDS", default_value_t = 30, global = true)]
    pub category_cache_seconds: u64,
}

/// Token and code signing.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Security")]
pub struct SecuritySettings {
    /// Secret for signing access tokens and `record-url` links (through a derived key) and keying
    /// OTP hashes. Required in production, at least 32 bytes.
    #[arg(long, env = "APP_SECRET_KEY", hide_env_values = true, global = true)]
    pub app_secret_key: Option<SecretString>,
    /// Lifetime of an access token, in minutes.
    #[arg(long, env = "ACCESS_TOKEN_EXPIRE_MINUTES", default_value_t = 1440, global = true)]
    pub access_token_expire_minutes: i64,
    /// How long a caller's identity (active flag, roles, token revocation) may be served from
    /// memory, in seconds; 0 reads it from the database on every request. Changes reach every
    /// process at once through PostgreSQL notifications; this bounds staleness should they stop.
    #[arg(long, env = "IDENTITY_CACHE_SECONDS", default_value_t = 30, global = true)]
    pub identity_cache_seconds: u64,
}

/// File storage settings.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Storage")]
pub struct StorageSettings {
    /// local or s3; defaults to s3 when HZ_OBJ_ENDPOINT is set, local otherwise.
    #[arg(long, env = "STORAGE_BACKEND", value_enum, global = true)]
    pub storage_backend: Option<StorageBackend>,
    /// Directory of the local storage backend.
    #[arg(long, env = "STORAGE_DIR", default_value = "./data", global = true)]
    pub storage_dir: PathBuf,
    /// Public base URL of stored objects (e.g. a public bucket or CDN); when unset, `file_url`
    /// points at the API, which streams the file to authorised callers.
    #[arg(long, env = "STORAGE_PUBLIC_BASE_URL", global = true)]
    pub storage_public_base_url: Option<String>,
    /// Base URL this API is reached at, used to build file URLs and signed `record-url` links
    /// (default: relative URLs).
    #[arg(long, env = "PUBLIC_API_BASE_URL", global = true)]
    pub public_api_base_url: Option<String>,
    /// S3 endpoint (with or without scheme).
    #[arg(long, env = "HZ_OBJ_ENDPOINT", global = true)]
    pub hz_obj_endpoint: Option<String>,
    /// S3 access key.
    #[arg(long, env = "HZ_OBJ_ACCESS_KEY", hide_env_values = true, global = true)]
    pub hz_obj_access_key: Option<SecretString>,
    /// S3 secret key.
    #[arg(long, env = "HZ_OBJ_SECRET_KEY", hide_env_values = true, global = true)]
    pub hz_obj_secret_key: Option<SecretString>,
    /// S3 bucket.
    #[arg(long, env = "HZ_OBJ_BUCKET_NAME", default_value = "corpus-data", global = true)]
    pub hz_obj_bucket_name: String,
    /// Use https for an endpoint given without scheme (true/1/yes).
    #[arg(long, env = "HZ_OBJ_USE_SSL", default_value = "true", global = true)]
    pub hz_obj_use_ssl: String,
    /// S3 region.
    #[arg(long, env = "HZ_OBJ_REGION", default_value = "us-east-1", global = true)]
    pub hz_obj_region: String,
    /// How `GET /records/{id}/file` hands a file over: `proxy` streams it through the API,
    /// `redirect` (S3 storage only) answers 307 to a presigned URL of the object, after the same
    /// authorisation, so file bytes do not pass through the API.
    #[arg(long, env = "FILE_DOWNLOAD", value_enum, default_value = "proxy", global = true)]
    pub file_download: FileDownload,
    /// Seconds a presigned download URL stays valid (`FILE_DOWNLOAD=redirect`); keep it short:
    /// whoever holds the URL can fetch the file until then.
    #[arg(long, env = "FILE_REDIRECT_TTL_SECONDS", default_value_t = 300, global = true)]
    pub file_redirect_ttl_seconds: u64,
}

/// Upload and media settings.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Uploads and media")]
pub struct UploadSettings {
    /// Largest accepted upload, in bytes (default 1 GiB).
    #[arg(long, env = "MAX_FILE_SIZE", default_value_t = 1024 * 1024 * 1024, global = true)]
    pub max_file_size: u64,
    /// Minutes after its last chunk that an unfinished resumable upload is deleted.
    #[arg(long, env = "UPLOAD_SESSION_TTL_MINUTES", default_value_t = 1440, global = true)]
    pub upload_session_ttl_minutes: i64,
    /// Directory where uploads are spooled while they arrive (default: the system temp dir);
    /// point it at a disk with room for `MAX_FILE_SIZE` per concurrent upload.
    #[arg(long, env = "UPLOAD_TMP_DIR", global = true)]
    pub upload_tmp_dir: Option<PathBuf>,
    /// Seconds between two runs of the periodic `cleanup` job (abandoned uploads, spool files,
    /// expired OTP rows, expired job results and export files; 0 disables it).
    #[arg(long, env = "UPLOAD_CLEANUP_INTERVAL_SECONDS", default_value_t = 900, global = true)]
    pub upload_cleanup_interval_seconds: u64,
    /// The executable run as a child process to time plain audio uploads (MP3, WAV, Ogg, FLAC,
    /// AAC) with a capped address space; default: this `corpus` binary itself.
    #[arg(long, env = "MEDIA_PROBE_PROGRAM", global = true)]
    pub media_probe_program: Option<PathBuf>,
    /// Address-space cap of one media probe child, in MiB.
    #[arg(long, env = "MEDIA_PROBE_MEMORY_MB", default_value_t = 256, global = true)]
    pub media_probe_memory_mb: u64,
    /// Seconds a media probe child may run before it is killed (the duration is then unknown).
    #[arg(long, env = "MEDIA_PROBE_TIMEOUT_SECONDS", default_value_t = 20, global = true)]
    pub media_probe_timeout_seconds: u64,
    /// Media probe children running at once; further uploads wait for a slot.
    #[arg(long, env = "MEDIA_PROBE_CONCURRENCY", default_value_t = 4, global = true)]
    pub media_probe_concurrency: usize,
    /// Unfinished resumable uploads one user may have open at once (429 beyond; 0 = no limit).
    #[arg(long, env = "UPLOAD_MAX_OPEN_PER_USER", default_value_t = 20, global = true)]
    pub upload_max_open_per_user: u32,
    /// Bytes one user may hold in unfinished resumable uploads (429 beyond); unset means four
    /// times MAX_FILE_SIZE, 0 = no limit.
    #[arg(long, env = "UPLOAD_MAX_PENDING_BYTES_PER_USER", global = true)]
    pub upload_max_pending_bytes_per_user: Option<u64>,
}

/// Redis and rate-limit settings.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Redis and rate limits")]
pub struct LimitSettings {
    /// Redis URL; when set, rate limits are shared by every replica through it.
    #[arg(long, env = "REDIS_URL", hide_env_values = true, global = true)]
    pub redis_url: Option<SecretUrl>,
    /// Longest a request waits on Redis (connecting and answering), in milliseconds; past it the
    /// rate-limited endpoints (login, OTP) answer 503 with `Retry-After`.
    #[arg(long, env = "REDIS_TIMEOUT_MS", default_value_t = 500, global = true)]
    pub redis_timeout_ms: u64,
    /// Prefix of every Redis key this service writes (lets several deployments share one Redis).
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = "corpus-te:", global = true)]
    pub redis_key_prefix: String,
    /// Password logins allowed per phone within 15 minutes before 429 (successful ones are not
    /// counted); stops password guessing. 0 turns the limit off.
    #[arg(long, env = "LOGIN_MAX_FAILURES", default_value_t = 10, global = true)]
    pub login_max_failures: u32,
    /// Comma-separated IPs or CIDR ranges (`10.0.0.0/8`, `fd00::/8`) of the reverse proxies and
    /// load balancers whose `X-Forwarded-For` is trusted for the client address (per-IP limits);
    /// empty means the peer address is the client.
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "", global = true)]
    pub trusted_proxies: TrustedProxies,
}

/// One-time code and SMS settings.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "One-time codes (SMS)")]
pub struct OtpSettings {
    /// SMS provider for one-time codes; defaults to ozonetel when OTP_SERVICE_URL is set, to log in
    /// development otherwise.
    #[arg(long, env = "OTP_PROVIDER", value_enum, global = true)]
    pub otp_provider: Option<SmsProvider>,
    /// Ozonetel endpoint.
    #[arg(long, env = "OTP_SERVICE_URL", global = true)]
    pub otp_service_url: Option<String>,
    /// Webhook endpoint of the `webhook` provider.
    #[arg(long, env = "OTP_WEBHOOK_URL", global = true)]
    pub otp_webhook_url: Option<String>,
    /// Ozonetel `userName`.
    #[arg(long, env = "OTP_USER_NAME", default_value = "", global = true)]
    pub otp_user_name: String,
    /// Ozonetel `entityId`.
    #[arg(long, env = "OTP_ENTITY_ID", default_value = "", global = true)]
    pub otp_entity_id: String,
    /// Ozonetel `templateId`.
    #[arg(long, env = "OTP_TEMPLATE_ID", default_value = "", global = true)]
    pub otp_template_id: String,
    /// SMS text; `{otp}` is replaced by the code.
    #[arg(long, env = "OTP_SMS_TEXT", default_value = "Your OTP is {otp}. Valid for 5 minutes.", global = true)]
    pub otp_sms_text: String,
    /// Ozonetel `apiKey`.
    #[arg(
        long,
        env = "OTP_API_KEY",
        default_value = "",
        hide_env_values = true,
        hide_default_value = true,
        global = true
    )]
    pub otp_api_key: SecretString,
    /// Ozonetel `smsType`.
    #[arg(long, env = "OTP_SMS_TYPE", default_value = "0", global = true)]
    pub otp_sms_type: String,
    /// Ozonetel `senderId`.
    #[arg(long, env = "OTP_SENDER_ID", default_value = "", global = true)]
    pub otp_sender_id: String,
    /// Minutes a code stays valid.
    #[arg(long, env = "OTP_EXPIRY_MINUTES", default_value_t = 5, global = true)]
    pub otp_expiry_minutes: i64,
    /// Submissions allowed per code.
    #[arg(long, env = "OTP_MAX_ATTEMPTS", default_value_t = 3, global = true)]
    pub otp_max_attempts: i32,
    /// Minutes between two sends to one phone (0 turns this limit off).
    #[arg(long, env = "OTP_RATE_LIMIT_MINUTES", default_value_t = 1, global = true)]
    pub otp_rate_limit_minutes: i64,
    /// Sends allowed per client IP per hour.
    #[arg(long, env = "OTP_IP_LIMIT_PER_HOUR", default_value_t = 30, global = true)]
    pub otp_ip_limit_per_hour: u32,
}

/// Logging settings.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Logging")]
pub struct LogSettings {
    /// Log filter: a level (debug, info, warning, error) or a tracing filter directive.
    #[arg(long, env = "LOG_LEVEL", default_value = "info", global = true)]
    pub log_level: String,
    /// Log format; defaults to pretty in development and json in production.
    #[arg(long, env = "LOG_FORMAT", value_enum, global = true)]
    pub log_format: Option<LogFormat>,
}

/// Prometheus metrics settings.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Metrics")]
pub struct MetricsSettings {
    /// Bearer token that `GET /metrics` requires. Unset: the endpoint is open in development and
    /// not served at all in production.
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true, global = true)]
    pub metrics_token: Option<SecretString>,
}

/// Rotating backups: where `corpus db backup --rotate` and the scheduled backup write, and how
/// many they keep.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Backups")]
pub struct BackupSettings {
    /// Directory of rotating backups: each is a `corpus-backup-<UTC time>` directory inside it.
    #[arg(long, env = "BACKUP_DIR", global = true)]
    pub backup_dir: Option<PathBuf>,
    /// Write rotating backups into the S3 bucket under `backups/` instead of BACKUP_DIR (S3
    /// storage only; the dump is staged in the upload spool directory first).
    #[arg(long, env = "BACKUP_TO_BUCKET", action = clap::ArgAction::Set, default_value_t = false, global = true)]
    pub backup_to_bucket: bool,
    /// Rotating backups to keep: after a new one succeeds, older ones the service wrote are
    /// deleted (only their own files; anything else beside them stays).
    #[arg(long, env = "BACKUP_KEEP", default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub backup_keep: u32,
    /// Hours between scheduled backups, run by the job scheduler when BACKUP_DIR or
    /// BACKUP_TO_BUCKET is set; 0 turns them off.
    #[arg(long, env = "BACKUP_INTERVAL_HOURS", default_value_t = 24, global = true)]
    pub backup_interval_hours: u32,
}

/// Background job settings (workers and the scheduler).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Background jobs")]
pub struct JobSettings {
    /// `serve` runs no job worker and no scheduler (API-only replicas; run `corpus worker`
    /// elsewhere).
    #[arg(long, env = "CORPUS_NO_WORKER", global = true)]
    pub no_worker: bool,
    /// Jobs one worker process runs at once.
    #[arg(long, env = "JOB_CONCURRENCY", default_value_t = 4, global = true)]
    pub job_concurrency: usize,
    /// Milliseconds between two looks at the queue when no notification arrives (new jobs are
    /// normally picked up at once through PostgreSQL notifications).
    #[arg(long, env = "JOB_POLL_INTERVAL_MS", default_value_t = 2000, global = true)]
    pub job_poll_interval_ms: u64,
    /// Seconds a worker holds a job without renewing its lease (renewed every third of it);
    /// a job whose worker died is run again after this.
    #[arg(long, env = "JOB_LEASE_SECONDS", default_value_t = 30, global = true)]
    pub job_lease_seconds: u64,
    /// Longest run of one job attempt, in seconds; past it the attempt is stopped and fails.
    #[arg(long, env = "JOB_TIME_LIMIT_SECONDS", default_value_t = 3600, global = true)]
    pub job_time_limit_seconds: u64,
    /// Attempts a job gets before it ends in FAILURE.
    #[arg(long, env = "JOB_MAX_ATTEMPTS", default_value_t = 3, global = true)]
    pub job_max_attempts: i32,
    /// Seconds before the first retry of a failed attempt; doubled for each later one.
    #[arg(long, env = "JOB_RETRY_BACKOFF_SECONDS", default_value_t = 10, global = true)]
    pub job_retry_backoff_seconds: u64,
    /// Hours a finished job (its status, result and export files) is kept.
    #[arg(long, env = "JOB_RESULT_RETENTION_HOURS", default_value_t = 24, global = true)]
    pub job_result_retention_hours: u64,
    /// Minutes a data export download link stays valid.
    #[arg(long, env = "EXPORT_LINK_TTL_MINUTES", default_value_t = 60, global = true)]
    pub export_link_ttl_minutes: u64,
}

/// The reverse proxies whose `X-Forwarded-For` is trusted: exact addresses and CIDR ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// True when `ip` is one of the proxies (an IPv4 address seen as IPv6, `::ffff:a.b.c.d`,
    /// matches its IPv4 form).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// True when no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The ranges that cover every address of their family (`0.0.0.0/0`, `::/0`): behind them any
    /// client can choose the address the limits see.
    pub fn catch_all(&self) -> impl Iterator<Item = &IpNet> {
        self.0.iter().filter(|net| net.prefix_len() == 0)
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    /// Parses a comma-separated list of IPs and CIDR ranges; empty entries are ignored, anything
    /// else that is not an address or a range is refused (a typo would otherwise silently make
    /// every client look like the proxy).
    fn from_str(list: &str) -> Result<Self, Self::Err> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                let parsed = if entry.contains('/') {
                    entry.parse::<IpNet>().ok().map(|net| net.trunc())
                } else {
                    entry.parse::<IpAddr>().ok().map(|ip| IpNet::from(ip.to_canonical()))
                };
                parsed.ok_or_else(|| format!("`{entry}` is neither an IP address nor a CIDR range (like 10.0.0.0/8)"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }
}

/// A URL that may carry a password (PostgreSQL, Redis). `Debug` shows it with the password
/// masked; [`SecretUrl::expose`] gives the real one to the code that connects.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    /// The URL itself, password included: for connecting only, never for printing.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with its password replaced by `***`, safe to print.
    pub fn masked(&self) -> String {
        mask_url_password(&self.0)
    }
}

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretUrl({:?})", self.masked())
    }
}

impl From<String> for SecretUrl {
    fn from(url: String) -> Self {
        Self(url)
    }
}

impl From<&str> for SecretUrl {
    fn from(url: &str) -> Self {
        Self(url.to_owned())
    }
}

impl Config {
    /// Builds a configuration from command-line style arguments (plus the environment), as tests do.
    pub fn from_args<I, T>(args: I) -> anyhow::Result<Self>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        #[derive(clap::Parser)]
        struct Wrapper {
            #[command(flatten)]
            config: Config,
        }
        let parsed = <Wrapper as clap::Parser>::try_parse_from(
            std::iter::once(std::ffi::OsString::from("corpus")).chain(args.into_iter().map(Into::into)),
        )?;
        Ok(parsed.config)
    }

    /// Checks the settings that can be wrong together; run once at start.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.corpus_env == Environment::Production {
            match self.security.app_secret_key.as_ref().map(|key| key.expose_secret().trim()) {
                None | Some("") => bail!("APP_SECRET_KEY must be set in production"),
                Some(ORIGINAL_DEFAULT_SECRET) => {
                    bail!("APP_SECRET_KEY is the well-known default `{ORIGINAL_DEFAULT_SECRET}`; set a real secret")
                }
                Some(key) if key.len() < MIN_SECRET_BYTES => bail!(
                    "APP_SECRET_KEY is {} bytes; production needs at least {MIN_SECRET_BYTES} (e.g. `openssl rand -hex 32`). \
                     A new secret signs everyone out and voids pending one-time codes",
                    key.len()
                ),
                Some(_) => {}
            }
            if self.otp.otp_provider == Some(SmsProvider::Log) {
                bail!("OTP_PROVIDER=log writes codes to the log and is allowed only in development");
            }
        }
        if self.security.access_token_expire_minutes <= 0 {
            bail!("ACCESS_TOKEN_EXPIRE_MINUTES must be positive");
        }
        if self.uploads.max_file_size == 0 {
            bail!("MAX_FILE_SIZE must be positive");
        }
        if self.database.db_acquire_timeout_seconds == 0 {
            bail!("DB_ACQUIRE_TIMEOUT_SECONDS must be positive");
        }
        if self.limits.redis_timeout_ms == 0 {
            bail!("REDIS_TIMEOUT_MS must be positive");
        }
        for (name, value) in [
            ("HTTP_HEADER_TIMEOUT_SECONDS", self.http.http_header_timeout_seconds),
            ("HTTP_KEEPALIVE_TIMEOUT_SECONDS", self.http.http_keepalive_timeout_seconds),
            ("HTTP_BODY_IDLE_TIMEOUT_SECONDS", self.http.http_body_idle_timeout_seconds),
        ] {
            if value == 0 {
                bail!("{name} must be positive");
            }
        }
        if self.storage.file_download == FileDownload::Redirect && self.storage_backend() != StorageBackend::S3 {
            bail!(
                "FILE_DOWNLOAD=redirect needs S3 storage (a local directory has no URL to redirect to); \
                 use FILE_DOWNLOAD=proxy or STORAGE_BACKEND=s3"
            );
        }
        if !(1..=MAX_PRESIGNED_SECONDS).contains(&self.storage.file_redirect_ttl_seconds) {
            bail!("FILE_REDIRECT_TTL_SECONDS must be between 1 and {MAX_PRESIGNED_SECONDS} (7 days, the S3 limit)");
        }
        let s3 = &self.storage;
        let s3_incomplete =
            s3.hz_obj_endpoint.is_none() || s3.hz_obj_access_key.is_none() || s3.hz_obj_secret_key.is_none();
        if self.storage_backend() == StorageBackend::S3 && s3_incomplete {
            bail!("S3 storage needs HZ_OBJ_ENDPOINT, HZ_OBJ_ACCESS_KEY and HZ_OBJ_SECRET_KEY to be set");
        }
        let jobs = &self.jobs;
        if jobs.job_concurrency == 0 || jobs.job_poll_interval_ms == 0 || jobs.job_time_limit_seconds == 0 {
            bail!("JOB_CONCURRENCY, JOB_POLL_INTERVAL_MS and JOB_TIME_LIMIT_SECONDS must be positive");
        }
        if jobs.job_lease_seconds < 3 {
            bail!("JOB_LEASE_SECONDS must be at least 3");
        }
        if jobs.job_max_attempts < 1 {
            bail!("JOB_MAX_ATTEMPTS must be at least 1");
        }
        if !(1..=7 * 24 * 60).contains(&jobs.export_link_ttl_minutes) {
            bail!("EXPORT_LINK_TTL_MINUTES must be between 1 and 10080 (7 days)");
        }
        self.pg_options().context("DATABASE_URL is not a valid PostgreSQL URL")?;
        Ok(())
    }

    /// True in development mode.
    pub fn is_development(&self) -> bool {
        self.corpus_env == Environment::Development
    }

    /// The PostgreSQL URL in effect, password included: for connecting only, never for printing
    /// (see [`Config::database_url_masked`]).
    pub fn database_url(&self) -> String {
        let db = &self.database;
        match &db.database_url {
            Some(url) => url.expose().to_owned(),
            None => {
                let password =
                    db.db_password.as_ref().map(|p| format!(":{}", urlencode(p.expose_secret()))).unwrap_or_default();
                format!(
                    "postgres://{}{}@{}:{}/{}",
                    urlencode(&db.db_user),
                    password,
                    db.db_host,
                    db.db_port,
                    urlencode(&db.db_name)
                )
            }
        }
    }

    /// The PostgreSQL URL with its password replaced by `***`, safe to print.
    pub fn database_url_masked(&self) -> String {
        mask_url_password(&self.database_url())
    }

    /// Connection options for the target database.
    pub fn pg_options(&self) -> anyhow::Result<PgConnectOptions> {
        let mut options = PgConnectOptions::from_str(&self.database_url())?;
        // A URL without a database name means the DB_NAME default.
        if options.get_database().is_none() {
            options = options.database(&self.database.db_name);
        }
        // No JIT: the service's statements are short, and compiling one whose estimate passes
        // `jit_above_cost` (a search over a million records with a selective filter) took
        // 30-650 ms, many times the query itself. No parallel workers either: for a page of 100
        // records PostgreSQL would start two workers per request (a box search over a million
        // records: p99 862 ms at 256 clients), where one process walking an index is faster and
        // leaves the cores to the other requests. Sent at connect time: no extra round trip.
        Ok(options.application_name("corpus-te").options([("jit", "off"), ("max_parallel_workers_per_gather", "0")]))
    }

    /// The signing secret; the original's default in development when unset.
    pub fn secret(&self) -> SecretString {
        match self.security.app_secret_key.as_ref().filter(|s| !s.expose_secret().trim().is_empty()) {
            Some(key) => key.clone(),
            None => SecretString::from(ORIGINAL_DEFAULT_SECRET),
        }
    }

    /// True when the secret is the well-known default (allowed in development only).
    pub fn uses_default_secret(&self) -> bool {
        self.secret().expose_secret() == ORIGINAL_DEFAULT_SECRET
    }

    /// The storage backend in effect.
    pub fn storage_backend(&self) -> StorageBackend {
        self.storage.storage_backend.unwrap_or(if self.storage.hz_obj_endpoint.is_some() {
            StorageBackend::S3
        } else {
            StorageBackend::Local
        })
    }

    /// The SMS provider in effect, if any.
    pub fn sms_provider(&self) -> Option<SmsProvider> {
        self.otp.otp_provider.or(if self.otp.otp_service_url.as_deref().is_some_and(|u| !u.is_empty()) {
            Some(SmsProvider::Ozonetel)
        } else if self.is_development() {
            Some(SmsProvider::Log)
        } else {
            None
        })
    }

    /// The Redis URL, password included (for connecting only), when one is set.
    pub fn redis_url(&self) -> Option<&str> {
        self.limits.redis_url.as_ref().map(SecretUrl::expose).filter(|u| !u.trim().is_empty())
    }

    /// The reverse proxies whose `X-Forwarded-For` is trusted.
    pub fn trusted_proxies(&self) -> &TrustedProxies {
        &self.limits.trusted_proxies
    }

    /// The bearer token `GET /metrics` requires, when one is set.
    pub fn metrics_token(&self) -> Option<&SecretString> {
        self.metrics.metrics_token.as_ref().filter(|t| !t.expose_secret().trim().is_empty())
    }

    /// Whether `GET /metrics` is served: always with a token, without one only in development.
    pub fn metrics_enabled(&self) -> bool {
        self.metrics_token().is_some() || self.is_development()
    }

    /// How long a presigned download URL stays valid.
    pub fn file_redirect_ttl(&self) -> Duration {
        Duration::from_secs(self.storage.file_redirect_ttl_seconds)
    }

    /// What a production deployment with these settings should be told at start: settings that
    /// work for one process but not, or not safely, for several replicas or behind a proxy.
    /// Empty in development.
    pub fn deployment_warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.is_development() {
            return warnings;
        }
        if self.storage_backend() == StorageBackend::Local {
            warnings.push(format!(
                "STORAGE_BACKEND=local: files are kept in STORAGE_DIR ({}) on this machine. That is safe with \
                 one replica only, unless every replica mounts this same directory: otherwise a file uploaded \
                 through one replica is missing on the others. Use S3 storage to run several replicas",
                self.storage.storage_dir.display()
            ));
        }
        if self.redis_url().is_none() {
            warnings.push(
                "REDIS_URL is not set: rate limits (failed logins, one-time codes per phone and per IP) are \
                 counted in each process, so with N replicas a client gets N times each limit. Set REDIS_URL \
                 to share them"
                    .to_owned(),
            );
        }
        if self.trusted_proxies().is_empty() {
            warnings.push(
                "TRUSTED_PROXIES is not set: the connecting address is taken as the client's. Behind a reverse \
                 proxy or load balancer every client then has the proxy's address and all of them share one \
                 per-IP limit. Set TRUSTED_PROXIES to the proxies' addresses or CIDR ranges"
                    .to_owned(),
            );
        }
        for net in self.trusted_proxies().catch_all() {
            warnings.push(format!(
                "TRUSTED_PROXIES includes {net}, every address: any client can then set X-Forwarded-For to \
                 choose the address its per-IP limits are counted under. Name the proxies' own range instead"
            ));
        }
        warnings
    }

    /// The log format in effect.
    pub fn log_format(&self) -> LogFormat {
        self.log.log_format.unwrap_or(if self.is_development() { LogFormat::Pretty } else { LogFormat::Json })
    }

    /// How long database initialisation waits for the server.
    pub fn db_wait(&self) -> Duration {
        Duration::from_secs(self.database.db_wait_seconds)
    }

    /// How long a request waits for a pooled database connection.
    pub fn db_acquire_timeout(&self) -> Duration {
        Duration::from_secs(self.database.db_acquire_timeout_seconds)
    }

    /// The bound on one wait for Redis.
    pub fn redis_timeout(&self) -> Duration {
        Duration::from_millis(self.limits.redis_timeout_ms)
    }

    /// The configured CORS origins; `None` means any origin.
    pub fn cors_origins(&self) -> Option<Vec<String>> {
        let origins: Vec<String> = self
            .http
            .backend_cors_origins
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split(',')
            .map(|o| o.trim().trim_matches('"').trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        if origins.is_empty() || origins.iter().any(|o| o == "*") { None } else { Some(origins) }
    }
}

/// Replaces the password of a URL with `***`: the one in its user part, and the value of a
/// `password` query parameter (which PostgreSQL URLs accept too). Text that is not a URL is
/// replaced whole, since where a password would be in it is unknown.
pub fn mask_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return if url.is_empty() { String::new() } else { "***".to_owned() };
    };
    let (before_query, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    let mut masked = match before_query.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => format!("{scheme}://{before_query}"),
        },
        None => format!("{scheme}://{before_query}"),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        masked.push('?');
        masked.push_str(&pairs.join("&"));
    }
    masked
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_the_password_of_a_url() {
        assert_eq!(mask_url_password("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(mask_url_password("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(mask_url_password("redis://:pw@h:6379"), "redis://:***@h:6379");
        assert_eq!(
            mask_url_password("postgres://u:p@ss@h/db?sslmode=require"),
            "postgres://u:***@h/db?sslmode=require"
        );
        assert_eq!(
            mask_url_password("postgres://h/db?user=u&password=hunter2&sslmode=disable"),
            "postgres://h/db?user=u&password=***&sslmode=disable"
        );
        // Not a URL: where a password would be is unknown, so nothing of it is shown.
        assert_eq!(mask_url_password("u:hunter2@h/db"), "***");
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let secrets = [
            "app-secret-0123456789abcdef0123456789",
            "db-password-hunter2",
            "url-password-sw0rdfish",
            "query-password-letmein",
            "s3-access-key-AKIAEXAMPLE",
            "s3-secret-key-wJalrXUtnFEMI",
            "otp-api-key-ozonetel",
            "redis-password-tr0ub4dor",
        ];
        let config = Config::from_args([
            "--app-secret-key",
            secrets[0],
            "--db-password",
            secrets[1],
            "--database-url",
            &format!("postgres://corpus:{}@db.example.org:5432/corpus_te", secrets[2]),
            "--hz-obj-endpoint",
            "s3.example.org",
            "--hz-obj-access-key",
            secrets[4],
            "--hz-obj-secret-key",
            secrets[5],
            "--otp-api-key",
            secrets[6],
            "--redis-url",
            &format!("redis://:{}@redis.example.org:6379/0", secrets[7]),
        ])
        .unwrap();
        let with_query = Config::from_args([
            "--database-url",
            &format!("postgres://db.example.org/corpus_te?password={}", secrets[3]),
        ])
        .unwrap();
        for shown in [format!("{config:?}"), format!("{config:#?}"), format!("{with_query:?}")] {
            for secret in secrets {
                assert!(!shown.contains(secret), "Debug shows {secret}: {shown}");
            }
            // The settings themselves are still there to read.
            assert!(shown.contains("db.example.org"), "{shown}");
        }
        let shown = format!("{config:?}");
        assert!(shown.contains("postgres://corpus:***@db.example.org:5432/corpus_te"), "{shown}");
        assert!(shown.contains("redis://:***@redis.example.org:6379/0"), "{shown}");
        // ... and the code that connects still gets the real values.
        assert!(config.database_url().contains(secrets[2]));
        assert_eq!(config.redis_url().unwrap(), format!("redis://:{}@redis.example.org:6379/0", secrets[7]));
        assert_eq!(config.secret().expose_secret(), secrets[0]);
        assert_eq!(config.otp.otp_api_key.expose_secret(), secrets[6]);
    }

    #[test]
    fn production_refuses_missing_or_default_secret() {
        let missing = Config::from_args(["--corpus-env", "production", "--app-secret-key", ""]).unwrap();
        assert!(missing.validate().is_err());
        let default =
            Config::from_args(["--corpus-env", "production", "--app-secret-key", ORIGINAL_DEFAULT_SECRET]).unwrap();
        assert!(default.validate().unwrap_err().to_string().contains("well-known default"));
        // Spaces around a short secret do not count.
        let padded = format!("{:^40}", "x".repeat(20));
        for short in ["a", "a-real-secret-of-some-length", "0123456789abcdef0123456789abcde", padded.as_str()] {
            let config = Config::from_args(["--corpus-env", "production", "--app-secret-key", short]).unwrap();
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains("at least 32"), "{short}: {err}");
            assert!(short.len() < 8 || !err.contains(short.trim()), "the secret is never echoed: {err}");
        }
        let good =
            Config::from_args(["--corpus-env", "production", "--app-secret-key", "0123456789abcdef0123456789abcdef"])
                .unwrap();
        good.validate().unwrap();
        // Development keeps accepting any secret (and none).
        Config::from_args(["--app-secret-key", "a"]).unwrap().validate().unwrap();
    }

    #[test]
    fn cors_origins_parse_lists_and_star() {
        let c = Config::from_args(["--backend-cors-origins", "https://a.org, https://b.org/"]).unwrap();
        assert_eq!(c.cors_origins().unwrap(), vec!["https://a.org", "https://b.org"]);
        let c = Config::from_args(["--backend-cors-origins", "*"]).unwrap();
        assert!(c.cors_origins().is_none());
    }

    #[test]
    fn trusted_proxies_take_addresses_and_cidr_ranges() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let proxies: TrustedProxies = " 10.0.0.0/8, 192.168.1.7 ,, fd00::/8, 2001:db8::1".parse().unwrap();
        for inside in ["10.0.0.1", "10.255.255.255", "192.168.1.7", "fd12:3456::1", "2001:db8::1", "::ffff:10.1.2.3"] {
            assert!(proxies.contains(ip(inside)), "{inside} is trusted");
        }
        for outside in ["11.0.0.1", "9.255.255.255", "192.168.1.8", "fe80::1", "2001:db8::2", "::ffff:11.0.0.1"] {
            assert!(!proxies.contains(ip(outside)), "{outside} is not trusted");
        }
        // A range written with host bits set means its network.
        let sloppy: TrustedProxies = "172.16.5.4/12".parse().unwrap();
        assert!(sloppy.contains(ip("172.31.255.1")) && !sloppy.contains(ip("172.32.0.1")));
        // An IPv4-mapped proxy address matches the peer in either form.
        let mapped: TrustedProxies = "::ffff:127.0.0.1".parse().unwrap();
        assert!(mapped.contains(ip("127.0.0.1")));
        assert!("".parse::<TrustedProxies>().unwrap().is_empty());
        assert_eq!("0.0.0.0/0, 10.0.0.0/8".parse::<TrustedProxies>().unwrap().catch_all().count(), 1);
        // A typo is refused, naming the entry, instead of silently trusting nothing.
        for bad in ["10.0.0.0/33", "10.0.0", "proxy.internal", "10.0.0.1/8/8", "10.0.0.0/-1"] {
            let err = format!("10.0.0.1, {bad}").parse::<TrustedProxies>().unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
        let err = Config::from_args(["--trusted-proxies", "10.0.0.0/99"]).unwrap_err().to_string();
        assert!(err.contains("10.0.0.0/99"), "{err}");
    }

    #[test]
    fn production_warns_about_settings_that_do_not_scale_out() {
        let secret = "0123456789abcdef0123456789abcdef";
        let bare = Config::from_args(["--corpus-env", "production", "--app-secret-key", secret]).unwrap();
        let warnings = bare.deployment_warnings();
        assert_eq!(warnings.len(), 3, "{warnings:#?}");
        assert!(warnings[0].starts_with("STORAGE_BACKEND=local") && warnings[0].contains("one replica"));
        assert!(warnings[1].starts_with("REDIS_URL is not set") && warnings[1].contains("per IP"));
        assert!(warnings[2].starts_with("TRUSTED_PROXIES is not set") && warnings[2].contains("proxy's address"));
        let scaled = Config::from_args([
            "--corpus-env",
            "production",
            "--app-secret-key",
            secret,
            "--hz-obj-endpoint",
            "https://s3.example.org",
            "--hz-obj-access-key",
            "k",
            "--hz-obj-secret-key",
            "s",
            "--redis-url",
            "redis://redis:6379/0",
            "--trusted-proxies",
            "10.0.0.0/8",
        ])
        .unwrap();
        scaled.validate().unwrap();
        assert_eq!(scaled.deployment_warnings(), Vec::<String>::new());
        let mut open = scaled.clone();
        open.limits.trusted_proxies = "0.0.0.0/0".parse().unwrap();
        let warnings = open.deployment_warnings();
        assert!(warnings.len() == 1 && warnings[0].contains("0.0.0.0/0"), "{warnings:#?}");
        // Development says nothing: one process on one machine is what it is for.
        assert!(Config::from_args::<[&str; 0], _>([]).unwrap().deployment_warnings().is_empty());
    }

    #[test]
    fn redirect_downloads_need_s3_and_a_bounded_lifetime() {
        let local = Config::from_args(["--storage-backend", "local", "--file-download", "redirect"]).unwrap();
        assert!(local.validate().unwrap_err().to_string().contains("FILE_DOWNLOAD=redirect needs S3"));
        let s3 = |ttl: &str| {
            Config::from_args([
                "--hz-obj-endpoint",
                "http://127.0.0.1:9000",
                "--hz-obj-access-key",
                "k",
                "--hz-obj-secret-key",
                "s",
                "--file-download",
                "redirect",
                "--file-redirect-ttl-seconds",
                ttl,
            ])
            .unwrap()
        };
        s3("300").validate().unwrap();
        assert_eq!(s3("300").file_redirect_ttl(), Duration::from_secs(300));
        assert!(s3("0").validate().is_err());
        assert!(s3("604801").validate().is_err());
        assert_eq!(Config::from_args::<[&str; 0], _>([]).unwrap().storage.file_download, FileDownload::Proxy);
    }

    #[test]
    fn metrics_are_open_in_development_and_need_a_token_in_production() {
        let secret = "0123456789abcdef0123456789abcdef";
        assert!(Config::from_args::<[&str; 0], _>([]).unwrap().metrics_enabled());
        let production = Config::from_args(["--corpus-env", "production", "--app-secret-key", secret]).unwrap();
        assert!(!production.metrics_enabled());
        let blank =
            Config::from_args(["--corpus-env", "production", "--app-secret-key", secret, "--metrics-token", " "])
                .unwrap();
        assert!(!blank.metrics_enabled(), "a blank token is no token");
        let token =
            Config::from_args(["--corpus-env", "production", "--app-secret-key", secret, "--metrics-token", "t0k3n"])
                .unwrap();
        assert!(token.metrics_enabled());
        assert!(!format!("{token:?}").contains("t0k3n"));
    }
}
