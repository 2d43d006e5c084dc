#!/usr/bin/env bash
# The read benchmark in one command (a benchmark, not a test: it asserts nothing, CI does not run it).
#
# For each corpus size (BENCH_SIZES, default "100000 1000000") and shape (BENCH_SHAPES, default
# "dense sparse": "dense" = every record in a 0.2 degree square around Hyderabad, as a city campaign;
# "sparse" = spread over 1 degree, so that a 0.2 degree box holds 4% of them, as in the issue that
# asked for this benchmark; "scattered" = spread over 10 degrees, where a 1 km circle or a 0.02 degree
# box holds a few records or none, so those searches answer almost nothing),
# it seeds the records, then runs every read endpoint with wrk at each connection count
# (BENCH_CONNS, default "8 64 256") and pgbench on the endpoint's own SQL with the same number of
# clients, and prints one table: req/s, p50, p99 and the ratio of the endpoint to pgbench. Then
# the server's idle and peak RSS and its start-up time (exec to the first /health answer).
# "list page 1" repeats one page, which the server answers from its list cache after the first
# time (", gzip": the same, accepting gzip); "list page 1, never cached" asks for a new page each
# time (an ignored extra parameter).
#
#   scripts/bench.sh                                   # everything (about 40 minutes)
#   BENCH_SIZES=100000 BENCH_CONNS="8 64" BENCH_DURATION=5s scripts/bench.sh   # a quicker run
#
# Needs PostgreSQL with PostGIS, pgbench (PostgreSQL's client tools) and wrk
# (apt-get install -y wrk); builds the release binary when CORPUS_BIN is not given.
source "$(dirname "$0")/bench-common.sh"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
command -v pgbench >/dev/null || { echo "pgbench is missing (PostgreSQL client tools)" >&2; exit 1; }
SIZES="${BENCH_SIZES:-100000 1000000}"
SHAPES="${BENCH_SHAPES:-dense sparse}"  # and "scattered"
CONNS_LIST="${BENCH_CONNS:-8 64 256}"
DURATION="${BENCH_DURATION:-10s}"
COLUMNS_SQL="r.uid, r.user_id, r.category_id, r.status, r.reviewed, r.reviewed_by, r.reviewed_at, r.created_at,
  r.updated_at, r.title, r.description, r.media_type, r.file_url, r.file_name, r.file_size, ST_Y(r.location) AS latitude,
  ST_X(r.location) AS longitude, r.duration_seconds, r.duration_implausible, r.object_key, r.language, r.release_rights,
  r.metadata, r.content_sha256, r.mime_type, r.review_status, r.review_note, r.duplicate_of"
POINT="ST_SetSRID(ST_MakePoint(:lng::float8, :lat::float8), 4326)::geography"
# The nearby statement as src/db/records/spatial.rs builds it (a walk of the page, a sixteenth more
# and 8), its values bound as the server binds them.
NEARBY_SQL='\set lat 17.385
\set lng 78.4867
\set radius 1000
\set box 1010
\set walk 114
\set page 100
\set skip 0'"
SELECT $COLUMNS_SQL, r.distance_meters, r.walked, r.walked_max FROM (SELECT w.*, count(*) OVER () AS walked, max(w.distance_meters) OVER () AS walked_max FROM (SELECT r.*, ST_Distance(r.location::geography, $POINT) AS distance_meters FROM record r WHERE r.location::geography && _ST_Expand($POINT, :box::float8) ORDER BY r.location::geography <-> $POINT LIMIT :walk) w) r WHERE r.distance_meters <= :radius::float8 OR r.distance_meters = r.walked_max ORDER BY r.distance_meters, r.created_at DESC, r.uid DESC LIMIT :page OFFSET :skip;"

# Start-up: exec to the first 200 on /health, on the initialised database (median of 5).
startup_ms() {
    local times=() port2=$((PORT + 1))
    for _ in 1 2 3 4 5; do
        local start end pid
        start=$(date +%s%N)
        CORPUS_ENV=development DATABASE_URL="$PG_URL" APP_SECRET_KEY="$SECRET" CORPUS_BIND="127.0.0.1:$port2" \
            STORAGE_BACKEND=local STORAGE_DIR="$WORK/data" LOG_LEVEL=warn CORPUS_NO_WORKER=true "$BIN" serve \
            >/dev/null 2>&1 &
        pid=$!
        until curl -fs "http://127.0.0.1:$port2/health" >/dev/null 2>&1; do sleep 0.002; done
        end=$(date +%s%N)
        kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
        times+=($(( (end - start) / 1000000 )))
    done
    printf '%s\n' "${times[@]}" | sort -n | sed -n 3p
}

seed() {
    local n="$1" shape="$2" spread
    case "$shape" in
        dense) spread=0.2 ;;
        sparse) spread=1 ;;
        scattered) spread=10 ;;
        *) echo "unknown shape $shape (dense, sparse or scattered)" >&2; exit 1 ;;
    esac
    psql "$PG_URL" -qv ON_ERROR_STOP=1 >/dev/null 2>&1 <<SQL
TRUNCATE record CASCADE;
INSERT INTO record (user_id, category_id, title, media_type, status, location, created_at)
SELECT '$ADMIN_ID', (SELECT id FROM category WHERE name = 'bench'), 'record ' || g,
       (ARRAY['text', 'audio', 'video', 'image'])[1 + g % 4]::mediatype, 'uploaded',
       ST_SetSRID(ST_MakePoint(78.4867 + (random() - 0.5) * $spread, 17.385 + (random() - 0.5) * $spread), 4326),
       now() - make_interval(secs => g)
FROM generate_series(1, $n) g;
VACUUM ANALYZE record;
SQL
}

# The box search's statement as the server builds it for a box that takes the spatial grid
# (src/db/records/spatial.rs in_bbox_grid): a newest-first walk of each cell the box covers, merged,
# with its values as pgbench variables (bound as parameters, as the server binds them; the page limits
# are written in, as the server writes them), `\set` first.
# Arguments: min_lat max_lat min_lng max_lng per_degree.
grid_sql() {
    local min_lat="$1" max_lat="$2" min_lng="$3" max_lng="$4" k="$5" cell n=0 branches=""
    printf '\\set min_lat %s\n\\set max_lat %s\n\\set min_lng %s\n\\set max_lng %s\n' \
        "$min_lat" "$max_lat" "$min_lng" "$max_lng"
    local env="ST_MakeEnvelope(:min_lng::float8, :min_lat::float8, :max_lng::float8, :max_lat::float8, 4326)"
    for cell in $(python3 -c "import math, sys
lat0, lat1, lng0, lng1, k = map(float, sys.argv[1:])
idx = lambda v, off: math.floor((v + off) * k)
print(*(y * int(360 * k) + x for y in range(idx(lat0, 90), idx(lat1, 90) + 1) for x in range(idx(lng0, 180), idx(lng1, 180) + 1)))" \
        "$min_lat" "$max_lat" "$min_lng" "$max_lng" "$k"); do
        n=$((n + 1))
        printf '\\set cell%s %s\n' "$n" "$cell"
        [[ -n "$branches" ]] && branches+=" UNION ALL "
        branches+="(SELECT r.* FROM record r WHERE record_grid_cell(r.location, $k) = :cell$n AND r.location IS NOT NULL AND COALESCE(ST_Intersects(r.location, $env), false) ORDER BY r.created_at DESC, r.uid DESC LIMIT 100)"
    done
    echo "SELECT $COLUMNS_SQL FROM (SELECT c.* FROM ($branches) c ORDER BY c.created_at DESC, c.uid DESC LIMIT 100 OFFSET 0) r ORDER BY r.created_at DESC, r.uid DESC;"
}

# The generic plan PostgreSQL keeps for a pgbench script's statement once it is prepared (as the
# server prepares it): each variable becomes a parameter, then EXPLAIN EXECUTE with the values.
generic_explain() {
    python3 - "$1" <<'PY'
import re, sys
values, sql = {}, []
for line in sys.argv[1].splitlines():
    m = re.match(r"\\set (\w+) (\S+)$", line)
    if m:
        values[m.group(1)] = m.group(2)
    else:
        sql.append(line)
sql = " ".join(sql).rstrip(";")
names = list(dict.fromkeys(re.findall(r":(\w+)", sql)))
names = [n for n in names if n in values]
for i, n in enumerate(names, 1):
    sql = re.sub(r":%s\b" % n, "$%d" % i, sql)
print("SET plan_cache_mode = force_generic_plan;")
print("PREPARE s AS %s;" % sql)
print("EXPLAIN (COSTS OFF) EXECUTE s(%s);" % ", ".join(values[n] for n in names))
print("DEALLOCATE s;")
PY
}

# CPU time (clock ticks) of the server process, and of PostgreSQL: every live `postgres` process
# plus what the postmaster has reaped (pgbench's sessions end with each run).
server_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }
pg_ticks() {
    local total=0 pid postmaster
    postmaster="$(pgrep -o -x postgres)"
    total=$(awk '{print $16 + $17}' "/proc/$postmaster/stat")
    for pid in $(pgrep -x postgres); do
        total=$(( total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0) ))
    done
    echo "$total"
}
# Microseconds of CPU per request: ticks, requests.
per_request_us() { awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { if (n > 0) printf "%.0f", t / hz * 1e6 / n; else print "-" }'; }

# One endpoint at one connection count: wrk on the API, pgbench on its SQL (when given). A fifth
# argument changes the requests: `each-new` adds a parameter the server ignores (`&n=<thread>-<count>`),
# so no two ask for the same page and none is answered from the list cache; `gzip` sends
# `Accept-Encoding: gzip`, as mobile clients do.
measure() {
    local label="$1" path="$2" sql="$3" conns="$4" mode="${5:-}"
    local status
    status="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE$path")"
    [[ "$status" == 200 ]] || { echo "$label: HTTP $status for $path" >&2; exit 1; }
    local out rps p50 p99 peak extra=()
    if [[ "$mode" == gzip ]]; then
        extra=(-H "Accept-Encoding: gzip")
    elif [[ "$mode" == each-new ]]; then
        cat >"$WORK/each-new.lua" <<LUA
local threads = 0
function setup(thread) thread:set("tid", threads); threads = threads + 1 end
local n = 0
function request() n = n + 1; return wrk.format(nil, "$path&n=" .. tid .. "-" .. n) end
LUA
        extra=(-s "$WORK/each-new.lua")
    fi
    local srv0 pg0 srv1 pg1 requests srv_us pg_us pgb_us="-"
    srv0="$(server_ticks)"; pg0="$(pg_ticks)"
    out="$(wrk -t2 -c"$conns" -d"$DURATION" --latency "${extra[@]}" -H "Authorization: Bearer $TOKEN" "$BASE$path")"
    srv1="$(server_ticks)"; pg1="$(pg_ticks)"
    requests="$(awk '/requests in/ {print $1}' <<<"$out")"
    srv_us="$(per_request_us $((srv1 - srv0)) "$requests")"
    pg_us="$(per_request_us $((pg1 - pg0)) "$requests")"
    rps="$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")"
    p50="$(awk '$1 == "50%" {print $2}' <<<"$out")"
    p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
    peak="$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")"
    # VmHWM only grows: the run that raised it last is where the peak was reached.
    if (( peak > PEAK_KIB )); then PEAK_KIB=$peak; PEAK_RUN="$SIZE $SHAPE, $label, $conns connections"; fi
    local tps="-" ratio="-"
    if [[ -n "$sql" ]]; then
        printf '%s\n' "$sql" >"$WORK/bench.sql"
        # PostgreSQL takes at most max_connections clients (100 by default): pgbench stays below.
        local clients=$(( conns < PG_CLIENTS ? conns : PG_CLIENTS ))
        # The server's sessions run without JIT and parallel workers (src/config.rs): so does pgbench.
        # PG_MODE=prepared for the statements the server prepares (nearby, the grid): PostgreSQL
        # then plans once, as it does for the server; the others are planned at each call.
        local pgout
        pg0="$(pg_ticks)"
        pgout="$(PGOPTIONS="-c jit=off -c max_parallel_workers_per_gather=0" pgbench -n -M "${PG_MODE:-extended}" -f "$WORK/bench.sql" -c "$clients" -j 2 -T "${DURATION%s}" "$PG_URL" 2>/dev/null || true)"
        pg1="$(pg_ticks)"
        tps="$(awk '/^tps/ {printf "%.0f", $3}' <<<"$pgout")"
        pgb_us="$(per_request_us $((pg1 - pg0)) "$(awk '/actually processed/ {print $NF}' <<<"$pgout")")"
        ratio="$(awk -v a="$rps" -v b="$tps" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')"
    fi
    printf '| %-8s | %-9s | %-26s | %5s | %9s | %9s | %9s | %9s | %6s | %6s | %6s | %6s |\n' \
        "$SIZE" "$SHAPE" "$label" "$conns" "$rps" "$p50" "$p99" "$tps" "$ratio" "$srv_us" "$pg_us" "$pgb_us"
}

start_server
PG_CLIENTS=$(( $(psql "$PG_URL" -Atc "SHOW max_connections") - 20 ))
IDLE_KIB="$(awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status")"
PEAK_KIB="$IDLE_KIB"
PEAK_RUN="start-up"
CATEGORY_SQL="SELECT id, name, title, description, published, rank, created_at, updated_at FROM category WHERE published OR true ORDER BY rank, name, id;"
ME_SQL="SELECT u.id, u.phone, u.name, u.is_active, u.tokens_valid_after, COALESCE(array_agg(r.name::text ORDER BY r.id) FILTER (WHERE r.id IS NOT NULL), '{}') FROM \"user\" u LEFT JOIN user_roles ur ON ur.user_id = u.id LEFT JOIN role r ON r.id = ur.role_id WHERE u.id = '$ADMIN_ID' GROUP BY u.id;"
echo "corpus read benchmark: $(nproc) cores, wrk -t2 -d$DURATION, pgbench -j2 (-M prepared for nearby and the small box, which the server prepares; -M extended for the rest) -T${DURATION%s} (at most $PG_CLIENTS clients); ratio = endpoint req/s / pgbench tps on its SQL"
echo
echo "CPU per request, in microseconds: 'srv' the server's, 'pg' PostgreSQL's while serving the endpoint,"
echo "'pgb' PostgreSQL's per pgbench transaction (the same SQL); the machine's cores are shared by all of them and wrk."
echo
printf '| %-8s | %-9s | %-26s | %5s | %9s | %9s | %9s | %9s | %6s | %6s | %6s | %6s |\n' records shape endpoint conns "req/s" p50 p99 "pg tps" ratio srv pg pgb
printf '|%s|\n' "----------|-----------|----------------------------|-------|-----------|-----------|-----------|-----------|--------|--------|--------|--------"
for SIZE in $SIZES; do
    for SHAPE in $SHAPES; do
        seed "$SIZE" "$SHAPE"
        # Page 500 of 100 (or the middle of a smaller corpus), by cursor.
        OFFSET=$(( SIZE / 2 < 49899 ? SIZE / 2 : 49899 ))
        CURSOR="$(psql "$PG_URL" -Atc "SELECT (extract(epoch FROM created_at) * 1000000)::bigint || '_' || uid FROM record
            ORDER BY created_at DESC, uid DESC OFFSET $OFFSET LIMIT 1")"
        CUR_AT="$(psql "$PG_URL" -Atc "SELECT created_at FROM record ORDER BY created_at DESC, uid DESC OFFSET $OFFSET LIMIT 1")"
        CUR_UID="${CURSOR#*_}"
        # The small box takes the 0.01 degree grid; the box holding all holds the records' estimated
        # extent, so the server walks them newest first with the plain statement (on sparse data it
        # also covers too many cells for the grid), as src/db/records/spatial.rs decides.
        SMALL_SQL="$(grid_sql 17.375 17.395 78.4767 78.4967 100)"
        case "$SHAPE" in
            dense) ALL_BOX="min_lat=17.28&max_lat=17.49&min_lng=78.38&max_lng=78.59"; ALL_ENV="78.38, 17.28, 78.59, 17.49" ;;
            sparse) ALL_BOX="min_lat=16.88&max_lat=17.89&min_lng=77.98&max_lng=78.99"; ALL_ENV="77.98, 16.88, 78.99, 17.89" ;;
            scattered) ALL_BOX="min_lat=12.3&max_lat=22.4&min_lng=73.4&max_lng=83.5"; ALL_ENV="73.4, 12.3, 83.5, 22.4" ;;
        esac
        ALL_SQL="SELECT $COLUMNS_SQL FROM (SELECT r.* FROM record r WHERE r.location IS NOT NULL AND ST_Intersects(r.location, ST_MakeEnvelope($ALL_ENV, 4326)) ORDER BY r.created_at DESC, r.uid DESC LIMIT 100 OFFSET 0) r ORDER BY r.created_at DESC, r.uid DESC;"
        for CONNS in $CONNS_LIST; do
            measure "/health" "/health" "" "$CONNS"
            measure "/auth/me" "/api/v1/auth/me" "$ME_SQL" "$CONNS"
            measure "/categories/" "/api/v1/categories/" "$CATEGORY_SQL" "$CONNS"
            measure "list page 1" "/api/v1/records/?limit=100" \
                "SELECT $COLUMNS_SQL FROM (SELECT r.* FROM record r WHERE TRUE ORDER BY r.created_at DESC, r.uid DESC LIMIT 100 OFFSET 0) r ORDER BY r.created_at DESC, r.uid DESC;" "$CONNS"
            measure "list page 1, gzip" "/api/v1/records/?limit=100" \
                "SELECT $COLUMNS_SQL FROM (SELECT r.* FROM record r WHERE TRUE ORDER BY r.created_at DESC, r.uid DESC LIMIT 100 OFFSET 0) r ORDER BY r.created_at DESC, r.uid DESC;" "$CONNS" gzip
            measure "list page 1, never cached" "/api/v1/records/?limit=100" \
                "SELECT $COLUMNS_SQL FROM (SELECT r.* FROM record r WHERE TRUE ORDER BY r.created_at DESC, r.uid DESC LIMIT 100 OFFSET 0) r ORDER BY r.created_at DESC, r.uid DESC;" "$CONNS" each-new
            measure "list page 500 (cursor)" "/api/v1/records/?limit=100&cursor=$CURSOR" \
                "SELECT $COLUMNS_SQL FROM (SELECT r.* FROM record r WHERE TRUE AND (r.created_at, r.uid) < ('$CUR_AT'::timestamptz, '$CUR_UID'::uuid) ORDER BY r.created_at DESC, r.uid DESC LIMIT 100) r ORDER BY r.created_at DESC, r.uid DESC;" "$CONNS"
            PG_MODE=prepared measure "nearby 1 km" "/api/v1/records/search/nearby?latitude=17.385&longitude=78.4867&radius=1000&limit=100" \
                "$NEARBY_SQL" "$CONNS"
            PG_MODE=prepared measure "bbox small (0.02 deg)" "/api/v1/records/search/bbox?min_lat=17.375&max_lat=17.395&min_lng=78.4767&max_lng=78.4967&limit=100" \
                "$SMALL_SQL" "$CONNS"
            measure "bbox holding all" "/api/v1/records/search/bbox?$ALL_BOX&limit=100" "$ALL_SQL" "$CONNS"
        done
    done
done
echo
echo "server RSS: idle $((IDLE_KIB / 1024)) MiB at start, peak $((PEAK_KIB / 1024)) MiB (VmHWM during the runs, reached in: $PEAK_RUN)"
echo "start-up to first /health answer: $(startup_ms) ms (median of 5, database initialised)"
echo
echo "EXPLAIN on the last data set: the plain box statement (a box too large for the grid; planned with its values),"
echo "then the generic plans of the prepared statements: the small box through the grid, nearby 1 km:"
{
    # The server's session settings (src/config.rs), so that the plans are the server's.
    echo "SET jit = off; SET max_parallel_workers_per_gather = 0;"
    echo "EXPLAIN (COSTS OFF) SELECT r.uid FROM (SELECT r.* FROM record r WHERE r.location IS NOT NULL AND ST_Intersects(r.location, ST_MakeEnvelope($ALL_ENV, 4326)) ORDER BY r.created_at DESC, r.uid DESC LIMIT 100 OFFSET 0) r;"
    generic_explain "$(grid_sql 17.375 17.395 78.4767 78.4967 100)"
    generic_explain "$NEARBY_SQL"
} | psql "$PG_URL" -qAt | sed 's/^/    /'
