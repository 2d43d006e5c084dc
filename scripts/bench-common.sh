# Shared by the benchmark scripts: a throw-away database, a release server, an admin token.
# Source it; it defines start_server, stop_server, TOKEN, BASE, PG_URL.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_BASE="${BENCH_PG_BASE:-postgres://postgres@127.0.0.1:5432}"
DB_NAME="${BENCH_DB:-corpus_bench}"
PG_URL="$PG_BASE/$DB_NAME"
PORT="${BENCH_PORT:-8090}"
BASE="http://127.0.0.1:$PORT"
SECRET="bench-secret-$(date +%s)"
BIN="${CORPUS_BIN:-$ROOT/target/release/corpus}"
WORK="$(mktemp -d /tmp/corpus-bench.XXXXXX)"
ADMIN_ID="00000000-0000-4000-8000-0000000b0001"
SERVER_PID=""

if [[ ! -x "$BIN" ]]; then
    echo "building the release binary (cargo build --release)..." >&2
    (cd "$ROOT" && cargo build --release --bin corpus)
fi

stop_server() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID"
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap stop_server EXIT

# Starts `corpus serve` on a fresh database (development mode initialises it), then waits for it.
start_server() {
    psql "$PG_BASE/postgres" -qc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" -c "CREATE DATABASE $DB_NAME" >/dev/null
    CORPUS_ENV=development DATABASE_URL="$PG_URL" APP_SECRET_KEY="$SECRET" CORPUS_BIND="127.0.0.1:$PORT" \
        STORAGE_BACKEND=local STORAGE_DIR="$WORK/data" LOG_LEVEL=warn DB_POOL_SIZE="${BENCH_POOL:-16}" \
        UPLOAD_CLEANUP_INTERVAL_SECONDS=0 MAX_FILE_SIZE=$((1024 * 1024 * 1024)) \
        "$BIN" serve >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 120); do
        curl -fs "$BASE/health" >/dev/null 2>&1 && break
        sleep 0.5
    done
    curl -fs "$BASE/health" >/dev/null || { cat "$WORK/server.log"; echo "server did not start" >&2; exit 1; }
    psql "$PG_URL" -qv ON_ERROR_STOP=1 >/dev/null <<SQL
INSERT INTO "user" (id, phone, name, is_active, has_given_consent) VALUES ('$ADMIN_ID', '+919000000001', 'Bench Admin', true, true);
INSERT INTO user_roles (user_id, role_id) VALUES ('$ADMIN_ID', 1);
INSERT INTO category (name, title, published) VALUES ('bench', 'Bench', true);
SQL
    TOKEN="$(python3 - "$SECRET" "$ADMIN_ID" <<'PY'
import base64, hashlib, hmac, json, sys, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
now = int(time.time())
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = b64(json.dumps({"sub": sys.argv[2], "iat": now - 5, "exp": now + 7200}).encode())
sig = b64(hmac.new(sys.argv[1].encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
print(f"{head}.{body}.{sig}")
PY
)"
    export TOKEN
}

# Runs wrk at 8 connections (CONNS/THREADS override) with the given arguments and prints one line:
# name, requests/s, p50, p99, non-2xx count, then the wrk command. Needs wrk (apt-get install -y wrk).
wrk_line() {
    local name="$1"; shift
    command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
    local out
    out="$(wrk -t"${THREADS:-2}" -c"${CONNS:-8}" -d"${DURATION:-15s}" --latency "$@")"
    printf '%-28s %10s req/s   p50 %-9s p99 %-9s non-2xx %-6s wrk -t%s -c%s -d%s --latency %s\n' "$name" \
        "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$(awk '$1 == "50%" {print $2}' <<<"$out")" \
        "$(awk '$1 == "99%" {print $2}' <<<"$out")" "$(awk '/Non-2xx/ {print $NF}' <<<"$out" | grep . || echo 0)" \
        "${THREADS:-2}" "${CONNS:-8}" "${DURATION:-15s}" "${@: -1}"
}
