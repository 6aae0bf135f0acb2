#!/usr/bin/env bash
# Browser tests: installs what is missing (Debian's Chromium, npm packages), builds the React
# example, and runs the stories against the debug server binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
(cd examples/react && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
[ -d tests/js/node_modules ] || (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
cd tests/browser
npm ci --no-audit --no-fund --loglevel=error
npm test
