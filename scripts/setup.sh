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

# nostr-tools (npm), the NIP-44 of JavaScript wallets: protocol/tests/answer_size.rs checks that
# the query service's largest answer decrypts with it. Installed under its own directory
# (MINTWATCH_NODE_DIR, default ~/.cache/mintwatch-node) with the machine's Node.js.
NOSTR_TOOLS_VERSION=2.25.2
node_dir="${MINTWATCH_NODE_DIR:-$HOME/.cache/mintwatch-node}"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  log "installing nodejs and npm"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q && apt-get install -y -q --no-install-recommends nodejs npm
fi
if [ "$(node -p "require('$node_dir/node_modules/nostr-tools/package.json').version" 2>/dev/null)" != "$NOSTR_TOOLS_VERSION" ]; then
  log "installing nostr-tools $NOSTR_TOOLS_VERSION into $node_dir"
  mkdir -p "$node_dir"
  (cd "$node_dir" && npm install --no-audit --no-fund --silent "nostr-tools@$NOSTR_TOOLS_VERSION")
fi
export MINTWATCH_NODE_MODULES="$node_dir/node_modules"
log "nostr-tools ready: $MINTWATCH_NODE_MODULES"

# cdk-mintd (crates.io), cdk's own mint binary on its default SQLite books, for the gateway's
# cdk-on-SQLite test (tests/gateway_cdk.rs). Built once with its own lock file into a directory
# of its own (MINTWATCH_CDK_MINTD_ROOT, default ~/.cache/mintwatch-cdk-mintd): cdk-sqlite links a
# libsqlite3 that cannot share mintwatch's build, so it is never a dependency of the workspace.
CDK_MINTD_VERSION=0.18.3
cdk_mintd_root="${MINTWATCH_CDK_MINTD_ROOT:-$HOME/.cache/mintwatch-cdk-mintd}"
if ! "$cdk_mintd_root/bin/cdk-mintd" --version 2>/dev/null | grep -q "$CDK_MINTD_VERSION"; then
  log "installing cdk-mintd $CDK_MINTD_VERSION (sqlite, fakewallet) into $cdk_mintd_root"
  cargo install -q --locked --root "$cdk_mintd_root" --version "$CDK_MINTD_VERSION" \
    --no-default-features --features sqlite,fakewallet cdk-mintd
fi
export MINTWATCH_CDK_MINTD="$cdk_mintd_root/bin/cdk-mintd"
log "cdk-mintd ready: $MINTWATCH_CDK_MINTD"
