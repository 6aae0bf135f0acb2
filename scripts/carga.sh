#!/usr/bin/env bash
# One tutor-carga scenario against a fresh local server: starts the tool's fake upstream and
# target/release/tutor (a temporary SQLite file, the abuse limits lifted as for a benchmark),
# runs the scenario with --pid and --metrics pointed at it, then stops both.
#   scripts/carga.sh chat -n 200 -m 5
#   TUTOR_BIN=target/release/tutor SERVIDOR_ENV="TUTOR_THREADS=2" scripts/carga.sh idle -n 19000 --passos 5
#   CARGA_POSTGRES=1 scripts/carga.sh burst -n 3000 -m 1    on a throwaway PostgreSQL instead
# Builds the release binaries first unless TUTOR_BIN and CARGA_BIN are given.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$#" -ge 1 ] || { echo "usage: $0 SCENARIO [tutor-carga args...]" >&2; exit 2; }
if [ -z "${TUTOR_BIN:-}" ] || [ -z "${CARGA_BIN:-}" ]; then
  cargo build --release --quiet --bin tutor --bin tutor-carga
fi
tutor="${TUTOR_BIN:-target/release/tutor}"
carga="${CARGA_BIN:-target/release/tutor-carga}"
dir="$(mktemp -d "${TMPDIR:-/tmp}/tutor-carga-XXXXXX")"
pids=()
banco="sqlite://$dir/t.db?mode=rwc"
if [ -n "${CARGA_POSTGRES:-}" ]; then
  # scripts/postgres.sh: its own server in a temporary folder (fsync on), stopped in parar.
  source scripts/postgres.sh
  banco="$TUTOR_TEST_POSTGRES_URL"
fi
parar() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  # Only ours: a bare `wait` would also wait for the PostgreSQL server.
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -z "${CARGA_POSTGRES:-}" ] || tutor_pg_parar
  [ -n "${MANTER:-}" ] || rm -rf "$dir"
}
trap parar EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

esperar_url() { # FILE PATTERN: the first URL the log prints after PATTERN
  for _ in $(seq 1 200); do
    u="$(grep -o "$2 http://[0-9.:]*" "$1" 2>/dev/null | head -1 | awk '{print $NF}')" || true
    [ -n "$u" ] && { echo "$u"; return 0; }
    sleep 0.05
  done
  echo "no URL in $1" >&2; cat "$1" >&2; return 1
}

"$carga" fake --addr 127.0.0.1:0 ${FAKE_ARGS:-} >"$dir/fake.log" 2>&1 &
pids+=($!)
fake="$(esperar_url "$dir/fake.log" "listening on")"
env TUTOR_ADDR=127.0.0.1:0 DATABASE_URL="$banco" TUTOR_JWT_SECRET=segredo-carga \
  OPENAI_BASE_URL="$fake/v1" OPENAI_API_KEY=x TUTOR_MENSAGENS_POR_MINUTO=0 TUTOR_EVENTOS_POR_MINUTO=0 \
  TUTOR_HANDSHAKES_POR_SEGUNDO=0 TUTOR_SESSOES_POR_SEGUNDO=0 TUTOR_MAX_SOCKETS_POR_USUARIO=100000 RUST_LOG=warn,tutor=info \
  ${SERVIDOR_ENV:-} "$tutor" >"$dir/server.log" 2>&1 &
pids+=($!)
servidor_pid=$!
url="$(esperar_url "$dir/server.log" "listening on")"
cenario="$1"; shift
"$carga" "$cenario" --url "$url" --secret segredo-carga --pid "$servidor_pid" --metrics "$url/metrics" "$@"
