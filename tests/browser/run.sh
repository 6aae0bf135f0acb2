#!/usr/bin/env bash
# Browser tests: installs what is missing (Debian's Chromium, npm packages), runs the React
# example's unit tests (vitest) and builds it, then runs the stories in
# tests/browser/*.test.mjs against the server binary ($TUTOR_BIN, default target/debug/tutor;
# build it first). Screenshots go to target/screenshots/; with TUTOR_SCREENSHOTS_DOCS=1 the
# README pictures (docs/formula.png, docs/turma.png) are taken again too.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
BIN="${TUTOR_BIN:-$PWD/target/debug/tutor}"
[ -x "$BIN" ] || { echo "no server binary at $BIN: run 'cargo build' first" >&2; exit 1; }
(cd examples/react && npm ci --no-audit --no-fund --loglevel=error && npm test && npm run build)
cd tests/browser
npm ci --no-audit --no-fund --loglevel=error
rm -f ../../target/browser-tests-server.log
npm test
