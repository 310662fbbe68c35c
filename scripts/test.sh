#!/usr/bin/env bash
# Runs every test of the workspace against a real PostgreSQL (tests make their own databases).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/mintwatch-target}"
# Libraries, binaries and test targets; benchmarks are run by `cargo bench` (docs/PERFORMANCE.md),
# not here: they are sized for release builds. Clippy still checks that they compile.
cargo test --workspace --lib --bins --tests "$@"
cargo test --workspace --doc "$@"
