#!/usr/bin/env bash
# Throughput of the accounts hot paths: password login, GET /auth/me and OTP verification, with
# wrk at 8 connections against the release build on a throw-away database.
#
#   scripts/bench-accounts.sh                 # 15 s per endpoint
#   BENCH_DURATION=3s scripts/bench-accounts.sh
#
# verify-otp is measured with a wrong code against a live code whose attempt limit is lifted, so
# every request does the real work (find the code, count the attempt, compare the HMAC). Login
# includes one argon2id verification per request, by design.
source "$(dirname "$0")/bench-common.sh"
DURATION="${BENCH_DURATION:-15s}"
# Lift the limits that would otherwise (rightly) stop a load test.
export OTP_PROVIDER=log OTP_MAX_ATTEMPTS=2000000000 OTP_RATE_LIMIT_MINUTES=0 OTP_IP_LIMIT_PER_HOUR=100000000 \
    LOGIN_MAX_FAILURES=0
start_server

PHONE="+919876500001"
PASSWORD="bench-password-1"
curl -fs -X POST "$BASE/api/v1/users/" -H 'content-type: application/json' \
    -d "{\"phone\":\"$PHONE\",\"name\":\"Bench\",\"password\":\"$PASSWORD\",\"has_given_consent\":true}" >/dev/null
USER_TOKEN=$(curl -fs -X POST "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"phone\":\"$PHONE\",\"password\":\"$PASSWORD\"}" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
# A live login code (its value does not matter: the benchmark submits a wrong one).
psql "$PG_URL" -qc "INSERT INTO otp (phone_number, otp_hash, expires_at, purpose)
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

echo "accounts: ${CONNS:-8} connections, ${THREADS:-2} wrk threads, $DURATION per endpoint, $(nproc) cores"
wrk_line "POST /auth/login" -s "$WORK/login.lua" "$BASE/api/v1/auth/login"
wrk_line "GET /auth/me" -H "Authorization: Bearer $USER_TOKEN" "$BASE/api/v1/auth/me"
wrk_line "POST /auth/verify-otp (400)" -s "$WORK/verify.lua" "$BASE/api/v1/auth/verify-otp"
