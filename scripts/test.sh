#!/usr/bin/env bash
# Runs every test of the workspace against a real PostgreSQL (tests make their own databases).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/mintwatch-target}"
export MINTWATCH_TEST_DATABASE_URL="${MINTWATCH_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
cargo test --workspace --all-targets "$@"
# Doc tests are not part of --all-targets.
cargo test --workspace --doc "$@"
