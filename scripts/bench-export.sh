#!/usr/bin/env bash
# Dataset export benchmark: MB/s of `corpus export dataset` over ~1 GiB of media, and the
# process's peak resident memory (GNU time's "Maximum resident set size"), which must stay flat
# (independent of the data's size). Records and their objects are written straight into a fresh
# database and a local storage directory (no upload), then exported twice: to a directory
# (`--out DIR`) and to the service's storage (`--out s3`, here the local backend's multipart path).
#
#   scripts/bench-export.sh
#   BENCH_LARGE=4 BENCH_SMALL=200 scripts/bench-export.sh    # a quick check
#
# Sizes: BENCH_LARGE files of 56 MiB (default 16, ~0.9 GiB) plus BENCH_SMALL files of 256 KiB
# (default 400, ~100 MiB): large video-like files and many small audio-like ones.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_BASE="${BENCH_PG_BASE:-postgres://postgres@127.0.0.1:5432}"
DB_NAME="${BENCH_DB:-corpus_bench_export}"
PG_URL="$PG_BASE/$DB_NAME"
BIN="${CORPUS_BIN:-$ROOT/target/release/corpus}"
LARGE="${BENCH_LARGE:-16}"
SMALL="${BENCH_SMALL:-400}"
WORK="$(mktemp -d /tmp/corpus-bench-export.XXXXXX)"
SHM=""
trap 'rm -rf "$WORK" ${SHM:+"$SHM"}; psql "$PG_BASE/postgres" -qc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1 || true' EXIT

if [[ ! -x "$BIN" ]]; then
    echo "building the release binary (cargo build --release)..." >&2
    (cd "$ROOT" && cargo build --release --bin corpus)
fi
[[ -x /usr/bin/time ]] || { echo "GNU time is missing: apt-get install -y time" >&2; exit 1; }

export DATABASE_URL="$PG_URL" STORAGE_BACKEND=local STORAGE_DIR="$WORK/data" LOG_LEVEL=warn CORPUS_ENV=development
psql "$PG_BASE/postgres" -qc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null
"$BIN" db init >/dev/null

# Objects and their records (size and SHA-256 as an upload would store them), as SQL.
python3 - "$WORK/data" "$LARGE" "$SMALL" >"$WORK/records.sql" <<'PY'
import hashlib, os, sys, uuid
root, large, small = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
user, cat = "00000000-0000-4000-8000-0000000e0001", "00000000-0000-4000-8000-0000000e0002"
print(f"INSERT INTO \"user\" (id, phone, name, is_active, has_given_consent) VALUES ('{user}', '+919000000009', 'Bench', true, true);")
print(f"INSERT INTO category (id, name, title, published) VALUES ('{cat}', 'bench', 'Bench', true);")
block = os.urandom(1 << 20)
def make(media, ext, size, mime, i):
    uid = uuid.uuid4()
    key = f"{media}/{uid}{ext}"
    os.makedirs(os.path.join(root, media), exist_ok=True)
    h = hashlib.sha256()
    with open(os.path.join(root, key), "wb") as f:
        left, n = size, 0
        while left > 0:
            # Every MiB differs (a counter in front), so nothing compresses or dedups away.
            piece = (n.to_bytes(8, "little") + block[8:])[: min(left, len(block))]
            f.write(piece); h.update(piece); left -= len(piece); n += 1
    print("INSERT INTO record (uid, user_id, category_id, title, media_type, status, object_key, file_size, "
          "content_sha256, mime_type, language, location, created_at) VALUES "
          f"('{uid}', '{user}', '{cat}', 'bench {i}', '{media}', 'uploaded', '{key}', {size}, '{h.hexdigest()}', "
          f"'{mime}', 'te', ST_SetSRID(ST_MakePoint(78.4, 17.3), 4326), now() - interval '{i} seconds');")
for i in range(large):
    make("video", ".mp4", 56 << 20, "video/mp4", i)
for i in range(small):
    make("audio", ".ogg", 256 << 10, "audio/ogg", large + i)
PY
psql "$PG_URL" -qv ON_ERROR_STOP=1 -f "$WORK/records.sql" >/dev/null
TOTAL_MB="$(du -sm "$WORK/data" | cut -f1)"
echo "dataset: $LARGE x 56 MiB + $SMALL x 256 KiB = ${TOTAL_MB} MiB in $(psql "$PG_URL" -Atc 'SELECT count(*) FROM record') records"

run() {
    local name="$1"; shift
    /usr/bin/time -v "$BIN" export dataset "$@" >"$WORK/out.txt" 2>"$WORK/time.txt" \
        || { cat "$WORK/out.txt" "$WORK/time.txt"; exit 1; }
    local line rss
    line="$(head -1 "$WORK/out.txt")"
    rss="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")"
    printf '%-22s %s; peak RSS %.1f MiB   corpus export dataset %s\n' "$name" \
        "$(grep -o '([0-9.]* MB/s)' <<<"$line" | tr -d '()')" "$(echo "$rss / 1024" | bc -l)" "$*"
}

# Warm the page cache once, so both runs read from memory alike.
cat "$WORK"/data/*/* >/dev/null
run "to a directory" --out "$WORK/out-dir"
rm -rf "$WORK/out-dir"
# The same into memory (tmpfs): the exporter's own speed, without the disk's write bandwidth
# (the files are flushed to disk before they are renamed into place).
if [[ -d /dev/shm && -w /dev/shm ]]; then
    SHM="$(mktemp -d /dev/shm/corpus-bench-export.XXXXXX)"
    run "to tmpfs" --out "$SHM/out"
    rm -rf "$SHM"
fi
run "to storage (exports/)" --out s3
# Memory must not grow with the data: the small files alone (a tenth of it) peak about as high.
run "audio only (small files)" --media-type audio --out "$WORK/out-audio"
