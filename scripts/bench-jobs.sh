#!/usr/bin/env bash
# Background jobs: no-op jobs per second with one and with two `corpus worker` processes, and the
# pick-up latency from enqueue (commit) to start, median and p95, with an idle worker.
# Usage: scripts/bench-jobs.sh [jobs] [latency samples]   (needs PostgreSQL; builds the release
# binary if missing). Times come from the database's clock (created_at, started_at, finished_at).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${1:-5000}
samples=${2:-200}
[ -x target/release/corpus ] || cargo build --release --locked --bin corpus
bin=target/release/corpus
db=corpus_bench_jobs
base="${BENCH_PG_BASE:-postgres://postgres@127.0.0.1:5432}"
export DATABASE_URL="$base/$db"
export STORAGE_DIR=$(mktemp -d) LOG_LEVEL=warn CORPUS_ENV=development
export JOB_CONCURRENCY=${JOB_CONCURRENCY:-4} JOB_POLL_INTERVAL_MS=${JOB_POLL_INTERVAL_MS:-2000}
psql "$base/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
"$bin" db init >/dev/null
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$base/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$STORAGE_DIR"
}
trap cleanup EXIT
sql() { psql "$DATABASE_URL" -qAtX -c "$1"; }

start_workers() {
  pids=()
  for _ in $(seq 1 "$1"); do
    "$bin" worker --no-scheduler & pids+=($!)
  done
  sleep 1
}

stop_workers() {
  for pid in "${pids[@]}"; do kill -TERM "$pid"; done
  for pid in "${pids[@]}"; do wait "$pid" || true; done
  pids=()
}

throughput() {
  local workers=$1
  sql "TRUNCATE jobs"
  start_workers "$workers"
  sql "INSERT INTO jobs (id, kind, args, max_attempts) SELECT gen_random_uuid(), 'noop', '{}', 1 FROM generate_series(1, $jobs)"
  until [ "$(sql "SELECT count(*) FROM jobs WHERE state = 'SUCCESS'")" -ge "$jobs" ]; do sleep 0.2; done
  stop_workers
  sql "SELECT format('%s worker(s) x %s: %s no-op jobs in %s s = %s jobs/s (each run once: %s)',
              $workers, ${JOB_CONCURRENCY}, count(*),
              round(extract(epoch FROM max(finished_at) - min(started_at))::numeric, 2),
              round(count(*) / extract(epoch FROM max(finished_at) - min(started_at))::numeric),
              bool_and(attempts = 1))
       FROM jobs"
}

throughput 1
throughput 2

# Pick-up latency: one idle worker, jobs enqueued one at a time (each its own transaction).
sql "TRUNCATE jobs"
start_workers 1
for _ in $(seq 1 "$samples"); do
  sql "INSERT INTO jobs (id, kind, args, max_attempts) VALUES (gen_random_uuid(), 'noop', '{}', 1)"
  sleep 0.02
done
until [ "$(sql "SELECT count(*) FROM jobs WHERE state = 'SUCCESS'")" -ge "$samples" ]; do sleep 0.2; done
stop_workers
sql "SELECT format('pick-up latency (enqueue commit -> start), %s jobs: median %s ms, p95 %s ms, max %s ms',
            count(*),
            round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at)) * 1000)::numeric, 1),
            round((percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at)) * 1000)::numeric, 1),
            round((max(extract(epoch FROM started_at - created_at)) * 1000)::numeric, 1))
     FROM jobs"
