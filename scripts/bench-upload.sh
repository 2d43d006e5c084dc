#!/usr/bin/env bash
# Upload benchmarks: throughput (MB/s) of a direct upload of a 50 MB file, and the server's
# resident memory (VmRSS from /proc/<pid>/status, sampled every 0.1 s) while a 200 MB file
# streams through, to show it stays flat.
#
#   scripts/bench-upload.sh
#   BENCH_SMALL_MB=5 BENCH_LARGE_MB=20 scripts/bench-upload.sh   # a quick check
source "$(dirname "$0")/bench-common.sh"
SMALL_MB="${BENCH_SMALL_MB:-50}"
LARGE_MB="${BENCH_LARGE_MB:-200}"

# A valid PCM WAV of the given size (the server sniffs it and reads its duration).
make_wav() {
    python3 - "$1" "$2" <<'PY'
import struct, sys
path, mb = sys.argv[1], int(sys.argv[2])
data = mb * 1024 * 1024 - 44
with open(path, "wb") as f:
    f.write(b"RIFF" + struct.pack("<I", 36 + data) + b"WAVE")
    f.write(b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16))
    f.write(b"data" + struct.pack("<I", data))
    block = bytes(range(256)) * 4096
    left = data
    while left > 0:
        n = min(left, len(block))
        f.write(block[:n])
        left -= n
PY
}

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status"; }

upload() {
    curl -s -o "$WORK/response.json" -w '%{http_code} %{time_total}' -H "Authorization: Bearer $TOKEN" \
        -F title=bench -F media_type=audio -F "category_id=$CATEGORY" -F "file=@$1;filename=bench.wav" \
        "$BASE/api/v1/records/upload"
}

start_server
CATEGORY="$(psql "$PG_URL" -Atc "SELECT id FROM category WHERE name = 'bench'")"
make_wav "$WORK/small.wav" "$SMALL_MB"
make_wav "$WORK/large.wav" "$LARGE_MB"

read -r code secs <<<"$(upload "$WORK/small.wav")"
[[ "$code" == 201 ]] || { cat "$WORK/response.json"; exit 1; }
printf '%s MB direct upload: %.1f MB/s (%.2f s)   curl -F file=@small.wav %s/api/v1/records/upload\n' \
    "$SMALL_MB" "$(echo "$SMALL_MB / $secs" | bc -l)" "$secs" "$BASE"

before="$(rss_kib)"
upload "$WORK/large.wav" >"$WORK/large.out" &
CURL=$!
peak="$before"
while kill -0 "$CURL" 2>/dev/null; do
    now="$(rss_kib)"
    if (( now > peak )); then peak="$now"; fi
    sleep 0.1
done
wait "$CURL"
read -r code secs <"$WORK/large.out" || true
[[ "$code" == 201 ]] || { cat "$WORK/response.json"; exit 1; }
printf '%s MB direct upload: %.1f MB/s; server VmRSS before %d KiB, peak during %d KiB (+%d KiB)\n' \
    "$LARGE_MB" "$(echo "$LARGE_MB / $secs" | bc -l)" "$before" "$peak" "$((peak - before))"
