#!/usr/bin/env bash
# Memory under many slow uploads at once (a contributor campaign on phones): N clients each send a
# 1 MB audio file over about 8 seconds, all at the same time. Prints the server's resident memory
# (VmRSS) before, at the peak, 5 s and a minute (BENCH_SETTLE_SECONDS) after they finish, and the
# per-upload cost.
#
#   scripts/bench-upload-concurrent.sh                  # 300 uploads of 1 MB over ~8 s
#   BENCH_UPLOADS=100 BENCH_UPLOAD_SECONDS=2 scripts/bench-upload-concurrent.sh
source "$(dirname "$0")/bench-common.sh"
UPLOADS="${BENCH_UPLOADS:-300}"
SECONDS_EACH="${BENCH_UPLOAD_SECONDS:-8}"
SETTLE="${BENCH_SETTLE_SECONDS:-60}"   # RSS is read again this long after the uploads end (at least 5)

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status"; }

start_server
CATEGORY="$(psql "$PG_URL" -Atc "SELECT id FROM category WHERE name = 'bench'")"
before="$(rss_kib)"
python3 - "$PORT" "$TOKEN" "$CATEGORY" "$UPLOADS" "$SECONDS_EACH" >"$WORK/clients.out" <<'PY' &
import asyncio, struct, sys, uuid
port, token, category, n, seconds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
data = 1024 * 1024 - 44
wav = (b"RIFF" + struct.pack("<I", 36 + data) + b"WAVE" + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)
       + b"data" + struct.pack("<I", data) + (bytes(range(256)) * 4096)[:data])

async def one():
    boundary = uuid.uuid4().hex
    head = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                   for k, v in [("title", "slow"), ("media_type", "audio"), ("category_id", category)])
    head += f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="slow.wav"\r\nContent-Type: audio/wav\r\n\r\n'
    body = head.encode() + wav + f"\r\n--{boundary}--\r\n".encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", int(port))
    writer.write((f"POST /api/v1/records/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                  f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len(body)}\r\n"
                  "Connection: close\r\n\r\n").encode())
    step = 16 * 1024
    pieces = (len(body) + step - 1) // step
    for i in range(pieces):
        writer.write(body[i * step:(i + 1) * step])
        await writer.drain()
        await asyncio.sleep(seconds / pieces)
    status = (await reader.readline()).split()[1]
    writer.close()
    return status

async def main():
    statuses = await asyncio.gather(*(one() for _ in range(n)), return_exceptions=True)
    ok = sum(1 for s in statuses if s == b"201")
    others = {}
    for s in statuses:
        if s != b"201":
            key = s.decode() if isinstance(s, bytes) else type(s).__name__
            others[key] = others.get(key, 0) + 1
    print(f"{ok}/{n} uploads answered 201" + (f"; others: {others}" if others else ""))

asyncio.run(main())
PY
CLIENTS=$!
peak="$before"
while kill -0 "$CLIENTS" 2>/dev/null; do
    now="$(rss_kib)"
    if (( now > peak )); then peak="$now"; fi
    sleep 0.1
done
wait "$CLIENTS"
sleep 5
after="$(rss_kib)"
sleep $((SETTLE - 5))
settled="$(rss_kib)"
cat "$WORK/clients.out"
printf '%d concurrent 1 MB uploads over ~%ss: VmRSS before %d KiB, peak %d KiB (+%d KiB, %d KiB per upload), 5 s after %d KiB (+%d KiB), %d s after %d KiB (+%d KiB)\n' \
    "$UPLOADS" "$SECONDS_EACH" "$before" "$peak" "$((peak - before))" "$(((peak - before) / UPLOADS))" "$after" "$((after - before))" \
    "$SETTLE" "$settled" "$((settled - before))"
