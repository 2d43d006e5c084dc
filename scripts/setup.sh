#!/usr/bin/env bash
# Makes this machine ready to run and test corpus-te, idempotently:
# PostgreSQL running with PostGIS available (and enabled in template1 so that
# every new database, including each test database, gets it cheaply), the PostgreSQL client
# tools (backups), Redis running, and Chromium + chromedriver + a Telugu font for the console's
# browser tests.
# Safe to run any number of times; it only changes what is missing.
set -euo pipefail

PGHOST_ADDR=${PGHOST_ADDR:-127.0.0.1}
PGPORT_NUM=${PGPORT_NUM:-5432}
export DEBIAN_FRONTEND=noninteractive

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

log() { printf '[setup] %s\n' "$*"; }

# 1. PostgreSQL: start the existing cluster if it is stopped; create one on a bare machine.
if ! pg_isready -q -h "$PGHOST_ADDR" -p "$PGPORT_NUM"; then
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1 || true)
  if [ -z "$version" ]; then
    log "no PostgreSQL cluster found: creating 15/main"
    as_root pg_createcluster 15 main
    version=15
  fi
  log "starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 30); do pg_isready -q -h "$PGHOST_ADDR" -p "$PGPORT_NUM" && break; sleep 1; done
fi
pg_isready -h "$PGHOST_ADDR" -p "$PGPORT_NUM"

# 2. PostGIS: install only the extension package (never the server package, which would upgrade it).
pg_major=$(psql -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -U postgres -d postgres -tAc 'SHOW server_version_num' | cut -c1-2)
if ! psql -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -U postgres -d postgres -tAc \
     "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'" | grep -q 1; then
  log "installing postgresql-${pg_major}-postgis-3"
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "postgresql-${pg_major}-postgis-3" >/dev/null
fi
psql -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -U postgres -d template1 -qc 'CREATE EXTENSION IF NOT EXISTS postgis' 2>&1 \
  | grep -v 'already exists' || true
log "PostGIS $(psql -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -U postgres -d template1 -tAc 'SELECT postgis_lib_version()')"

# 3. PostgreSQL client tools (pg_dump, pg_restore) for `corpus db backup` and `db restore`,
#    of the server's major version.
if ! command -v pg_dump >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/pg_dump >/dev/null 2>&1; then
  log "installing postgresql-client-${pg_major}"
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "postgresql-client-${pg_major}" >/dev/null
fi
log "$(pg_dump --version 2>/dev/null || ls /usr/lib/postgresql/*/bin/pg_dump)"

# 4. Redis (optional for the service, used by the tests for shared rate limits).
if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  log "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 20); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.5; done
fi
log "Redis $(redis-cli -h 127.0.0.1 ping)"

# 5. The web console's browser tests: Debian's Chromium, its WebDriver and a Telugu font.
missing=()
for pkg in chromium chromium-driver fonts-lohit-telu; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
log "$(chromium --version 2>/dev/null || echo 'chromium missing')"
log "ready"
