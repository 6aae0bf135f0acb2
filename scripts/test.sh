#!/usr/bin/env bash
# The whole test suite, as CI runs it, on a fresh machine or a developer's:
#   installs what is missing (Debian packages, npm packages), checks formatting and lints,
#   runs the Rust integration tests, then the stock socket.io-client tests under node --test,
#   then the browser tests when their folder exists.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
dpkg -s libssl-dev >/dev/null 2>&1 || need_apt+=(libssl-dev)
if [ -d tests/browser ] && [ ! -x /usr/bin/chromium ]; then need_apt+=(chromium); fi
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
echo "== Rust integration tests"
cargo test --workspace --quiet 2>&1 | tee target/rust-tests.log
grep -q "test result: ok" target/rust-tests.log

export TUTOR_BIN="$PWD/target/debug/tutor"
echo "== stock socket.io-client tests (node --test)"
(cd tests/js && npm ci --no-audit --no-fund --loglevel=error && npm test)

if [ -x tests/browser/run.sh ]; then
  echo "== browser tests (Chromium)"
  tests/browser/run.sh
fi
