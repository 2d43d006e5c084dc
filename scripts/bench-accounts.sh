#!/usr/bin/env bash
# Throughput of the accounts hot paths: password login, GET /auth/me and OTP verification.
#
#   scripts/bench-accounts.sh [DURATION]        (default 30s; 8 connections, 2 wrk threads)
#
# Builds the release binary (SKIP_BUILD=1 to reuse it, BIN=... to point at another), serves it on
# a throwaway database, and prints requests/s per endpoint. Needs PostgreSQL with PostGIS
# (BENCH_PG, default postgres://postgres@127.0.0.1:5432) and wrk (apt-get install -y wrk).
#
# verify-otp is measured with a wrong code against a live code whose attempt limit is lifted
# (OTP_MAX_ATTEMPTS), so every request does the real work: find the code, count the attempt,
# compare the HMAC. Login includes one argon2id verification per request by design.
set -euo pipefail

DURATION=${1:-30s}
CONNS=${CONNS:-8}
THREADS=${THREADS:-2}
PORT=${PORT:-18787}
PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
DB="corpus_bench_$$"
BASE="http://127.0.0.1:${PORT}"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/target/release/corpus}
WORK=$(mktemp -d)

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
if [[ -z "${SKIP_BUILD:-}" ]]; then
    (cd "$ROOT" && cargo build --release --bin corpus)
fi

cleanup() {
    [[ -n "${SERVER:-}" ]] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
    psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

export DATABASE_URL="$PG/$DB" CORPUS_BIND="127.0.0.1:$PORT" STORAGE_DIR="$WORK/data" LOG_LEVEL=warn \
    CORPUS_ENV=development APP_SECRET_KEY="bench-secret-$$" OTP_PROVIDER=log OTP_MAX_ATTEMPTS=2000000000 \
    OTP_RATE_LIMIT_MINUTES=0 OTP_IP_LIMIT_PER_HOUR=100000000 DB_POOL_SIZE=${DB_POOL_SIZE:-16}
"$BIN" db init >/dev/null
"$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -fs "$BASE/health" >/dev/null && break; sleep 0.1; done

PHONE="+919876500001"
PASSWORD="bench-password-1"
curl -fs -X POST "$BASE/api/v1/users/" -H 'content-type: application/json' \
    -d "{\"phone\":\"$PHONE\",\"name\":\"Bench\",\"password\":\"$PASSWORD\",\"has_given_consent\":true}" >/dev/null
TOKEN=$(curl -fs -X POST "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"phone\":\"$PHONE\",\"password\":\"$PASSWORD\"}" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
# A live login code (its value does not matter: the benchmark submits a wrong one).
psql "$PG/$DB" -qc "INSERT INTO otp (phone_number, otp_hash, expires_at, purpose)
    VALUES ('$PHONE', repeat('0', 64), now() + interval '1 day', 'login')" >/dev/null

post_script() {
    cat >"$WORK/$1.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$2'
LUA
}
post_script login "{\"phone\":\"$PHONE\",\"password\":\"$PASSWORD\"}"
post_script verify "{\"phone_number\":\"$PHONE\",\"otp_code\":\"999999\"}"

run() {
    local name=$1 file; shift
    file="$WORK/$(echo "$name" | tr -c 'a-zA-Z0-9' '_').txt"
    local rps
    rps=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$@" | tee "$file" | awk '/Requests\/sec/ {print $2}')
    local non2xx
    non2xx=$(awk '/Non-2xx/ {print $NF}' "$file")
    printf '%-28s %10s req/s   p50 %-9s p99 %-9s non-2xx %s\n' "$name" "$rps" \
        "$(awk '$1=="50%" {print $2}' "$file")" "$(awk '$1=="99%" {print $2}' "$file")" "${non2xx:-0}"
}

echo "corpus accounts benchmark: $CONNS connections, $THREADS threads, $DURATION per endpoint, $(nproc) cores"
run "POST /auth/login" -s "$WORK/login.lua" "$BASE/api/v1/auth/login"
run "GET /auth/me" -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/auth/me"
run "POST /auth/verify-otp (400)" -s "$WORK/verify.lua" "$BASE/api/v1/auth/verify-otp"
