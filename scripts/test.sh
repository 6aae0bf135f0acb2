#!/usr/bin/env bash
# The whole test suite, as CI runs it, on a fresh machine or a developer's:
#   installs what is missing (Debian packages, npm packages), checks formatting and lints,
#   runs the Rust integration tests (and the vendored engineioxide's own), validates the
#   AsyncAPI contract (docs/asyncapi.yaml, with tests/contrato), then the stock socket.io-client tests under node --test,
#   then the browser tests when their folder exists, all on SQLite; then starts a throwaway
#   PostgreSQL (scripts/postgres.sh, installed when missing) and runs the Rust integration
#   tests and the socket.io-client tests again on it; then the cluster stories (tests/cluster:
#   three nodes with a redis-server, a PostgreSQL of their own and nginx in front). A failure
#   anywhere fails the script.
#
#   TUTOR_TEST_POSTGRES_URL=postgres://…   use that server for the Postgres runs instead
#   TUTOR_TEST_POSTGRES=0                  skip the Postgres runs (never in CI)
#   TUTOR_TEST_CLUSTER=0                   skip the cluster stories (never in CI)
set -euo pipefail
cd "$(dirname "$0")/.."

# The SQLite runs must not see a Postgres URL from the environment: it is kept for later.
pg_externo="${TUTOR_TEST_POSTGRES_URL:-}"
unset TUTOR_TEST_POSTGRES_URL
alvo="${CARGO_TARGET_DIR:-$PWD/target}"
mkdir -p "$alvo"

need_apt=()
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
dpkg -s libssl-dev >/dev/null 2>&1 || need_apt+=(libssl-dev)
if [ -d tests/browser ] && [ ! -x /usr/bin/chromium ]; then need_apt+=(chromium); fi
if [ -d tests/cluster ] && [ "${TUTOR_TEST_CLUSTER:-1}" != "0" ]; then
  [ -x /usr/bin/redis-server ] || need_apt+=(redis-server)
  [ -x /usr/sbin/nginx ] || need_apt+=(nginx)
  [ -x /usr/lib/postgresql/15/bin/postgres ] || need_apt+=(postgresql-15)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== installing Debian packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo build (server, examples)"
cargo build --workspace --all-targets --quiet
echo "== Rust integration tests on SQLite"
cargo test --workspace --quiet 2>&1 | tee "$alvo/rust-tests.log"
grep -q "test result: ok" "$alvo/rust-tests.log"

# The vendored crates are not workspace members (vendor/README.md): engineioxide's own tests,
# which cover our patch to its WebSocket writer, run from a copy with the project's lock.
echo "== the vendored engineioxide's own tests"
eio_copia="$(mktemp -d)"
cp -r vendor/engineioxide/. "$eio_copia/"
printf '\n[workspace]\n' >> "$eio_copia/Cargo.toml"
cp Cargo.lock "$eio_copia/"
(cd "$eio_copia" && CARGO_TARGET_DIR="$alvo/vendor-engineioxide" cargo test --quiet --lib)
rm -rf "$eio_copia"

echo "== the AsyncAPI contract (docs/asyncapi.yaml) validates"
(cd tests/contrato && npm ci --no-audit --no-fund --loglevel=error && npm test)

export TUTOR_BIN="$alvo/debug/tutor"
echo "== stock socket.io-client tests (node --test) on SQLite"
(cd tests/js && npm ci --no-audit --no-fund --loglevel=error && npm test)

if [ -x tests/browser/run.sh ]; then
  echo "== browser tests (Chromium) on SQLite"
  tests/browser/run.sh
fi

if [ "${TUTOR_TEST_POSTGRES:-1}" = "0" ]; then
  echo "== PostgreSQL runs SKIPPED (TUTOR_TEST_POSTGRES=0)"
else
  if [ -n "$pg_externo" ]; then
    export TUTOR_TEST_POSTGRES_URL="$pg_externo"
    echo "== PostgreSQL at TUTOR_TEST_POSTGRES_URL from the environment"
  else
    # Started now, stopped and deleted when this script exits, however it exits.
    source scripts/postgres.sh
  fi
  echo "== Rust integration tests on PostgreSQL"
  cargo test --workspace --quiet 2>&1 | tee "$alvo/rust-tests-postgres.log"
  grep -q "test result: ok" "$alvo/rust-tests-postgres.log"
  echo "== stock socket.io-client tests (node --test) on PostgreSQL"
  (cd tests/js && npm test)
fi

if [ -d tests/cluster ]; then
  if [ "${TUTOR_TEST_CLUSTER:-1}" = "0" ]; then
    echo "== cluster stories SKIPPED (TUTOR_TEST_CLUSTER=0)"
  else
    # cluster stories: each file starts its own redis-server, PostgreSQL 15, tutor nodes and
    # nginx (tests/cluster/cluster.mjs), and reaches the socket.io-client of tests/js (npm ci
    # above) through ../js/harness.mjs.
    echo "== cluster stories (three nodes, Redis, PostgreSQL, nginx)"
    (cd tests/cluster && node --test --test-concurrency=1 --test-timeout=180000 *.test.mjs)
  fi
fi
echo "== all passed"
