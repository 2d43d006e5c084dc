#!/usr/bin/env bash
# Read benchmarks on 100,000 seeded records: list (first page, page 500 by skip and by cursor),
# nearby (10 km, and 50 km holding every record) and bbox (4% of the records, and all of them), each with wrk at 8 connections; prints requests/s and p99 latency.
#
#   scripts/bench-records.sh                 # 15 s per endpoint
#   BENCH_DURATION=3s scripts/bench-records.sh   # a quick check
#
# Needs PostgreSQL with PostGIS (BENCH_PG_BASE, default postgres://postgres@127.0.0.1:5432) and
# wrk (apt-get install -y wrk). Uses a throw-away database `corpus_bench`.
source "$(dirname "$0")/bench-common.sh"
DURATION="${BENCH_DURATION:-15s}"
RECORDS="${BENCH_RECORDS:-100000}"

start_server
echo "seeding $RECORDS records..."
psql "$PG_URL" -qv ON_ERROR_STOP=1 >/dev/null <<SQL
INSERT INTO record (user_id, category_id, title, media_type, status, location, created_at)
SELECT '$ADMIN_ID', (SELECT id FROM category WHERE name = 'bench'), 'record ' || g,
       (ARRAY['text', 'audio', 'video', 'image'])[1 + g % 4]::mediatype, 'uploaded',
       ST_SetSRID(ST_MakePoint(78.4867 + (random() - 0.5), 17.385 + (random() - 0.5)), 4326),
       now() - make_interval(secs => g)
FROM generate_series(1, $RECORDS) g;
VACUUM ANALYZE record;
SQL
CURSOR="$(psql "$PG_URL" -Atc "SELECT (extract(epoch FROM created_at) * 1000000)::bigint || '_' || uid FROM record
    ORDER BY created_at DESC, uid DESC OFFSET 49899 LIMIT 1")"

run() {
    local name="$1" path="$2"
    local status
    status="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE$path")"
    [[ "$status" == 200 ]] || { echo "$name: HTTP $status for $path" >&2; exit 1; }
    wrk_line "$name" -H "Authorization: Bearer $TOKEN" "$BASE$path"
}

run "list first page"          "/api/v1/records/?limit=100"
run "list page 500 (skip)"     "/api/v1/records/?skip=49900&limit=100"
run "list page 500 (cursor)"   "/api/v1/records/?limit=100&cursor=$CURSOR"
run "nearby 10 km"             "/api/v1/records/search/nearby?latitude=17.385&longitude=78.4867&radius=10000&limit=100"
run "bbox (4% of records)"     "/api/v1/records/search/bbox?min_lat=17.3&max_lat=17.5&min_lng=78.4&max_lng=78.6&limit=100"
# Dense: every record in the box / circle. Their best plan differs from the sparse one's, so these
# catch a generic plan chosen for all values.
run "bbox (all records)"       "/api/v1/records/search/bbox?min_lat=16.8&max_lat=18.0&min_lng=77.9&max_lng=79.1&limit=100"
run "nearby 50 km (most)"      "/api/v1/records/search/nearby?latitude=17.385&longitude=78.4867&radius=50000&limit=100"
