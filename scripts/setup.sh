#!/usr/bin/env bash
# Makes this machine ready to build and test mintwatch: a Rust toolchain with rustfmt and clippy,
# and a running PostgreSQL. Safe to run again; sourced by scripts/test.sh and scripts/demo.sh.
set -euo pipefail

log() { printf '[setup] %s\n' "$*" >&2; }

if ! command -v cargo >/dev/null 2>&1; then
  log "cargo not found: install Rust (rustup) first"
  exit 1
fi
for comp in rustfmt clippy; do
  if ! cargo "${comp/rustfmt/fmt}" --version >/dev/null 2>&1; then
    log "installing $comp"
    rustup component add "$comp"
  fi
done

# PostgreSQL: start the local cluster if it is down; install it if it is missing.
pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
if ! command -v pg_isready >/dev/null 2>&1 || ! command -v pg_ctlcluster >/dev/null 2>&1; then
  log "installing PostgreSQL"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q && apt-get install -y -q postgresql postgresql-contrib
fi
if ! pg_up; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  log "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi
if ! pg_up; then
  log "PostgreSQL is not reachable on 127.0.0.1:5432"
  exit 1
fi
# Trust auth for local TCP is what these machines use; say so clearly if it is not the case.
if ! psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
  log "cannot connect as postgres@127.0.0.1 without a password (expected trust auth); set DATABASE_URL"
  exit 1
fi
log "PostgreSQL ready"
