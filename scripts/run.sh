#!/usr/bin/env bash
# Fresh machine → service running on its embedded defaults: prepares PostgreSQL + PostGIS and
# Redis (idempotent), builds the release binary, and serves on 0.0.0.0:8000 in development mode
# (which creates and migrates the `corpus_te` database at start; files go under ./data).
# Extra arguments go to `corpus` before `serve`, e.g. `./scripts/run.sh --bind 127.0.0.1:9000`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo build --release --locked
exec ./target/release/corpus "$@" serve
