#!/usr/bin/env bash
# Runs the whole test suite on this machine: prepares PostgreSQL + PostGIS and Redis (idempotent),
# then every unit and integration test with cargo-nextest (falls back to `cargo test`).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --all-targets --no-fail-fast "$@"
else
  cargo test --workspace --all-targets --no-fail-fast "$@"
fi
