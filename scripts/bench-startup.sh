#!/usr/bin/env bash
# Prints the release binary's size, the time from exec to the first 200 on /health (database
# already initialised, so this is the server's own start-up), and the idle resident memory.
# Usage: scripts/bench-startup.sh [runs]   (needs PostgreSQL; builds the release binary if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
[ -x target/release/corpus ] || cargo build --release --locked
bin=target/release/corpus
db=corpus_bench_startup
export DATABASE_URL="${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/$db}"
export STORAGE_DIR=$(mktemp -d) LOG_LEVEL=warn CORPUS_ENV=production APP_SECRET_KEY=bench-secret-bench-secret-bench-secret
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export CORPUS_BIND=127.0.0.1:$port
"$bin" db init >/dev/null

printf 'binary size: %s bytes (%s)\n' "$(stat -c %s "$bin")" "$(du -h "$bin" | cut -f1)"
total=0
for i in $(seq 1 "$runs"); do
  start=$(date +%s%N)
  "$bin" serve & pid=$!
  until curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1; do sleep 0.002; done
  end=$(date +%s%N)
  ms=$(( (end - start) / 1000000 ))
  total=$((total + ms))
  if [ "$i" -eq "$runs" ]; then
    sleep 2
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$port/api/v1/openapi.json" >/dev/null; done
    rss_after=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  fi
  kill -TERM "$pid"; wait "$pid" || true
done
printf 'start-up to first /health answer: %d ms average over %d runs\n' $((total / runs)) "$runs"
printf 'idle RSS: %d KiB (after 50 requests: %d KiB)\n' "$rss" "$rss_after"
psql "${DATABASE_URL%/*}/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
