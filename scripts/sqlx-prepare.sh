#!/usr/bin/env bash
# The compile-time checked queries (`sqlx::query!` and friends) are built from the query data in
# `.sqlx/`, committed, so a build needs no database. This script regenerates that data against a
# scratch database migrated from `migrations/` (`./scripts/sqlx-prepare.sh`), or with `--check`
# fails when the committed data no longer matches the code or the schema (CI runs it).
# Installs the matching sqlx-cli when it is missing. Needs PostgreSQL with PostGIS (setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
SQLX_CLI_VERSION=0.8.6
if ! cargo sqlx --version 2>/dev/null | grep -q " ${SQLX_CLI_VERSION}$"; then
  echo "[sqlx] installing sqlx-cli ${SQLX_CLI_VERSION}"
  cargo install sqlx-cli --version "${SQLX_CLI_VERSION}" --no-default-features --features postgres,rustls --locked --quiet
fi
server=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
scratch="corpus_sqlx_$$"
export DATABASE_URL="${server%/*}/${scratch}"
trap 'psql "$server" -qc "DROP DATABASE IF EXISTS ${scratch} WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
psql "$server" -qc "CREATE DATABASE ${scratch}" >/dev/null
cargo sqlx migrate run --source migrations >/dev/null
# Online against the scratch database, whatever the environment says.
export SQLX_OFFLINE=false
cargo sqlx prepare "$@"
