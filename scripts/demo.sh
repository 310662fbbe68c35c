#!/usr/bin/env bash
# The main job: `mintwatch demo` on this machine, with nothing but PostgreSQL. Builds in release,
# creates and migrates the database (DATABASE_URL, default postgres://localhost/mintwatch), then
# runs a local relay, simulated mints, the indexer, the API on 127.0.0.1:8080 and the nostr
# outputs until Ctrl-C. Extra arguments go to `mintwatch demo` (see `--help`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/mintwatch-target}"
if [ -z "${DATABASE_URL:-}" ] && [ -z "${MINTWATCH_CONFIG:-}" ] && [[ " $* " != *" --config"* ]]; then
  # Local trust auth as the postgres role works on every machine set up by scripts/setup.sh.
  # (A config file's `database_url` is left to win over the built-in default.)
  export DATABASE_URL="postgres://postgres@127.0.0.1:5432/mintwatch"
fi
cargo build --release --bin mintwatch
exec "$CARGO_TARGET_DIR/release/mintwatch" demo "$@"
