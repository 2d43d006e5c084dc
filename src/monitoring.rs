//! The Prometheus metrics of one application instance: request counts and latencies, upload
//! bytes, and the gauges read when the metrics are scraped (database pool, free disk space).
//!
//! Each [`Metrics`] has its own recorder instead of the process-wide one of the `metrics` crate,
//! so that several application instances in one process (as in the integration tests) never mix
//! their numbers; values are recorded through [`metrics::with_local_recorder`].

use std::{fmt, sync::Arc, time::Duration};

use metrics::{Counter, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

/// Name of the request counter.
pub const REQUESTS: &str = "corpus_http_requests_total";
/// Name of the request latency histogram.
pub const REQUEST_SECONDS: &str = "corpus_http_request_duration_seconds";
/// Name of the counter of upload body bytes received.
pub const UPLOAD_BYTES: &str = "corpus_upload_bytes_received_total";
/// Name of the gauge of open pooled database connections.
pub const DB_POOL_CONNECTIONS: &str = "corpus_db_pool_connections";
/// Name of the gauge of idle pooled database connections.
pub const DB_POOL_IDLE: &str = "corpus_db_pool_idle_connections";
/// Name of the gauge of the pool's connection limit.
pub const DB_POOL_MAX: &str = "corpus_db_pool_max_connections";
/// Name of the gauge of free disk space, labelled by `directory` (`storage`, `spool`).
pub const DISK_FREE: &str = "corpus_disk_free_bytes";
/// Name of the gauge of the last successful backup's end, as a Unix time.
pub const BACKUP_LAST_SUCCESS: &str = "corpus_backup_last_success_timestamp_seconds";
/// Name of the gauge of jobs in the queue, labelled by `state` (`PENDING` is the queue depth).
pub const JOBS: &str = "corpus_jobs";
/// Name of the gauge of the last successful backup's age.
pub const BACKUP_AGE: &str = "corpus_backup_last_success_age_seconds";

/// Latency buckets in seconds: from a cached lookup to a large upload on a slow network.
const LATENCY_BUCKETS: [f64; 14] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// Values read at scrape time rather than counted as they happen.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Open pooled database connections (busy and idle).
    pub pool_connections: u32,
    /// Idle pooled database connections.
    pub pool_idle: usize,
    /// The pool's connection limit (`DB_POOL_SIZE`).
    pub pool_max: u32,
    /// Free bytes where local storage keeps its objects (`None` with S3 or when unreadable).
    pub storage_free_bytes: Option<u64>,
    /// Free bytes in the upload spool directory (`None` when unreadable).
    pub spool_free_bytes: Option<u64>,
    /// When the last successful backup ended (`None`: none logged, or the log is unreadable).
    pub last_backup: Option<chrono::DateTime<chrono::Utc>>,
    /// Jobs per state (`PENDING` waiting, `STARTED`/`PROGRESS` running, finished ones kept).
    pub jobs_by_state: Vec<(String, i64)>,
}

/// The metrics of one application instance; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
    upload_bytes: Counter,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A recorder with nothing recorded yet (the metrics are described, so they carry `# HELP`).
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&LATENCY_BUCKETS)
            // The buckets are a constant, non-empty list: this cannot fail.
            .expect("latency buckets are not empty")
            .build_recorder();
        let upload_bytes = metrics::with_local_recorder(&recorder, || {
            describe_counter!(REQUESTS, "HTTP requests answered, by method, matched route and status");
            describe_histogram!(
                REQUEST_SECONDS,
                metrics::Unit::Seconds,
                "Time to answer an HTTP request (until the response head), by method, matched route and status"
            );
            describe_counter!(UPLOAD_BYTES, metrics::Unit::Bytes, "Request body bytes received by the upload routes");
            describe_gauge!(DB_POOL_CONNECTIONS, "Open pooled database connections (busy and idle)");
            describe_gauge!(DB_POOL_IDLE, "Idle pooled database connections");
            describe_gauge!(DB_POOL_MAX, "Largest number of pooled database connections (DB_POOL_SIZE)");
            describe_gauge!(
                DISK_FREE,
                metrics::Unit::Bytes,
                "Bytes free for this service on the file system of a directory (storage: STORAGE_DIR, \
                 spool: UPLOAD_TMP_DIR)"
            );
            describe_gauge!(
                BACKUP_LAST_SUCCESS,
                metrics::Unit::Seconds,
                "When the last successful backup ended (Unix time); absent when none is logged"
            );
            describe_gauge!(
                JOBS,
                "Background jobs by state (PENDING: waiting to run; STARTED, PROGRESS: running; finished ones until \
                 their retention ends)"
            );
            describe_gauge!(BACKUP_AGE, metrics::Unit::Seconds, "Seconds since the last successful backup ended");
            counter!(UPLOAD_BYTES)
        });
        let handle = recorder.handle();
        Self { recorder: Arc::new(recorder), handle, upload_bytes }
    }

    /// Counts one answered request and its latency. `route` must be a route template (never the
    /// raw path, whose ids would make a series per record).
    pub fn record_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let labels = [("method", method.to_owned()), ("route", route.to_owned()), ("status", status.to_string())];
        metrics::with_local_recorder(&*self.recorder, || {
            counter!(REQUESTS, &labels).increment(1);
            histogram!(REQUEST_SECONDS, &labels).record(elapsed.as_secs_f64());
        });
    }

    /// The counter of upload body bytes received.
    pub fn upload_bytes(&self) -> &Counter {
        &self.upload_bytes
    }

    /// The Prometheus text exposition of everything recorded, with `snapshot`'s gauges.
    pub fn render(&self, snapshot: &Snapshot) -> String {
        metrics::with_local_recorder(&*self.recorder, || {
            gauge!(DB_POOL_CONNECTIONS).set(f64::from(snapshot.pool_connections));
            gauge!(DB_POOL_IDLE).set(snapshot.pool_idle as f64);
            gauge!(DB_POOL_MAX).set(f64::from(snapshot.pool_max));
            for (directory, free) in [("storage", snapshot.storage_free_bytes), ("spool", snapshot.spool_free_bytes)] {
                if let Some(free) = free {
                    gauge!(DISK_FREE, "directory" => directory).set(free as f64);
                }
            }
            for (state, count) in &snapshot.jobs_by_state {
                gauge!(JOBS, "state" => state.clone()).set(*count as f64);
            }
            if let Some(at) = snapshot.last_backup {
                gauge!(BACKUP_LAST_SUCCESS).set(at.timestamp() as f64);
                gauge!(BACKUP_AGE).set((chrono::Utc::now() - at).num_seconds().max(0) as f64);
            }
        });
        self.handle.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_latencies_and_gauges_per_instance() {
        let metrics = Metrics::new();
        metrics.record_request("GET", "/api/v1/records/{record_id}", 200, Duration::from_millis(30));
        metrics.record_request("GET", "/api/v1/records/{record_id}", 200, Duration::from_millis(3));
        metrics.record_request("POST", "/api/v1/auth/login", 401, Duration::from_millis(700));
        metrics.upload_bytes().increment(1234);
        let text = metrics.render(&Snapshot {
            pool_connections: 3,
            pool_idle: 2,
            pool_max: 10,
            storage_free_bytes: Some(5_000),
            spool_free_bytes: None,
            last_backup: Some(chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap()),
            jobs_by_state: vec![("PENDING".into(), 7)],
        });
        assert!(text.contains(r#"corpus_jobs{state="PENDING"} 7"#), "{text}");
        assert!(text.contains("corpus_backup_last_success_timestamp_seconds 1700000000"), "{text}");
        assert!(text.contains("corpus_backup_last_success_age_seconds "), "{text}");
        assert!(
            text.contains(
                r#"corpus_http_requests_total{method="GET",route="/api/v1/records/{record_id}",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"corpus_http_request_duration_seconds_bucket{method="POST",route="/api/v1/auth/login",status="401",le="1"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"corpus_http_request_duration_seconds_bucket{method="POST",route="/api/v1/auth/login",status="401",le="0.5"} 0"#),
            "{text}"
        );
        assert!(text.contains("corpus_upload_bytes_received_total 1234"), "{text}");
        assert!(text.contains("corpus_db_pool_connections 3"), "{text}");
        assert!(text.contains("corpus_db_pool_idle_connections 2"), "{text}");
        assert!(text.contains("corpus_db_pool_max_connections 10"), "{text}");
        assert!(text.contains(r#"corpus_disk_free_bytes{directory="storage"} 5000"#), "{text}");
        assert!(!text.contains(r#"directory="spool""#), "{text}");
        assert!(text.contains("# HELP corpus_http_requests_total"), "{text}");
        // Another instance starts from nothing.
        let other = Metrics::new().render(&Snapshot::default());
        assert!(!other.contains("corpus_http_requests_total{"), "{other}");
    }
}
