#!/usr/bin/env bash
# Makes this machine ready to build and test mintwatch: a Rust toolchain with rustfmt and clippy,
# a running PostgreSQL, and the tools the end-to-end tests use: Prometheus (tests/demo.rs runs
# every dashboard query through a real one), curl (it runs the demo's example request as
# printed), Chromium with chromedriver (the website's browser tests) and nutshell (a real Cashu
# mint for the gateway's tests). Safe to run again; sourced by scripts/test.sh and scripts/demo.sh.
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

# Tools of the end-to-end tests, from Debian's packages. The prometheus package would also start
# a system service where there is an init system; the tests start their own on a free port.
missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # A package's service that cannot start in a container does not make the tools unusable.
  apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || log "apt-get reported an error installing ${missing[*]}; checking the binaries"
  for tool in "${missing[@]}"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      log "$tool is still missing; install it (Debian: apt-get install $tool)"
      exit 1
    fi
  done
fi
log "prometheus and curl ready"

# protoc builds cdk-signatory's gRPC definitions (cdk, the real mint of the gateway's tests).
if ! command -v protoc >/dev/null 2>&1; then
  log "installing protobuf-compiler"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q && apt-get install -y -q --no-install-recommends protobuf-compiler
  command -v protoc >/dev/null 2>&1 || { log "protoc is still missing (Debian: protobuf-compiler)"; exit 1; }
fi
log "protoc ready"

# The website's browser tests (tests/website.rs) drive Debian's Chromium through chromedriver.
browser_missing=()
[ -x /usr/bin/chromium ] || browser_missing+=(chromium)
[ -x /usr/bin/chromedriver ] || browser_missing+=(chromium-driver)
if [ "${#browser_missing[@]}" -gt 0 ]; then
  log "installing ${browser_missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q && apt-get install -y -q --no-install-recommends "${browser_missing[@]}" fonts-dejavu-core
  for bin in /usr/bin/chromium /usr/bin/chromedriver; do
    if [ ! -x "$bin" ]; then
      log "$bin is still missing; install it (Debian: apt-get install chromium chromium-driver)"
      exit 1
    fi
  done
fi
log "chromium and chromedriver ready"

# schemathesis (PyPI) drives tests/openapi_conformance.rs: generated requests against the
# OpenAPI document. In its own virtual environment, so the system Python stays untouched.
venv="${MINTWATCH_VENV:-$HOME/.cache/mintwatch-venv}"
schemathesis_version="4.32.5"
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$schemathesis_version"; then
  log "installing schemathesis $schemathesis_version into $venv"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q && apt-get install -y -q --no-install-recommends python3-venv
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install -q "schemathesis==$schemathesis_version"
fi
export MINTWATCH_SCHEMATHESIS="$venv/bin/schemathesis"
log "schemathesis ready"

# nutshell (PyPI `cashu`), the real mint and CLI wallet of the gateway's tests, in a virtual
# environment of its own (MINTWATCH_NUTSHELL_VENV, default ~/.cache/mintwatch-nutshell), apart from schemathesis's. cashu 0.21.0
# pins breez-sdk-spark<0.18, which the registry no longer serves: install cashu without its
# dependencies, then its other requirements as it declares them, then breez-sdk-spark 0.18.0 without
# dependencies, and the two libraries whose newer majors break it (marshmallow<4, limits<4).
NUTSHELL_VERSION=0.21.0
nutshell_venv="${MINTWATCH_NUTSHELL_VENV:-$HOME/.cache/mintwatch-nutshell}"
nutshell_ok() {
  [ -x "$nutshell_venv/bin/mint" ] && [ -x "$nutshell_venv/bin/cashu" ] \
    && [ "$("$nutshell_venv/bin/python" -c 'import importlib.metadata as m; print(m.version("cashu"))' 2>/dev/null)" = "$NUTSHELL_VERSION" ] \
    && "$nutshell_venv/bin/python" -c 'import cashu.mint.ledger, cashu.wallet.cli.cli, cashu.lightning.fake' >/dev/null 2>&1
}
if ! nutshell_ok; then
  log "installing nutshell (cashu $NUTSHELL_VERSION) in $nutshell_venv"
  if ! python3 -m venv --help >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q && apt-get install -y -q python3-venv
  fi
  [ -x "$nutshell_venv/bin/python" ] || python3 -m venv "$nutshell_venv"
  pip=("$nutshell_venv/bin/python" -m pip install -q --disable-pip-version-check)
  "${pip[@]}" --no-deps "cashu==$NUTSHELL_VERSION"
  mapfile -t reqs < <("$nutshell_venv/bin/python" - <<'PY'
import importlib.metadata as m
for r in m.requires("cashu") or []:
    if not r.lower().startswith("breez-sdk-spark") and "extra ==" not in r:
        print(r)
PY
  )
  "${pip[@]}" "${reqs[@]}"
  "${pip[@]}" --no-deps "breez-sdk-spark==0.18.0"
  "${pip[@]}" "marshmallow<4" "limits<4"
  if ! nutshell_ok; then
    log "nutshell did not install into $nutshell_venv"
    exit 1
  fi
fi
log "nutshell ready: $nutshell_venv/bin/mint, $nutshell_venv/bin/cashu"
