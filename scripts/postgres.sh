#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server for the tests: installed from Debian when missing, a
# temporary data directory, trust auth on loopback only, a free port, stopped and deleted on
# exit. It exports TUTOR_TEST_POSTGRES_URL (the admin URL; every test server gets a database
# of its own under it) and TUTOR_TEST_PSQL (the psql the JS harness creates databases with).
#
#   source scripts/postgres.sh             # in a bash script: started now, stopped at its EXIT
#   scripts/postgres.sh cargo test --test api    # runs one command against it, then stops it
#
# Works as root (initdb and postgres refuse root: they run as the `postgres` system user,
# made when missing) and as an ordinary user (they run as that user).

tutor_pg_bin=/usr/lib/postgresql/15/bin

tutor_pg_instalar() {
  [ -x "$tutor_pg_bin/postgres" ] && return 0
  echo "== installing Debian package: postgresql-15"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq postgresql-15 >/dev/null
  [ -x "$tutor_pg_bin/postgres" ] || { echo "postgresql-15 installed no $tutor_pg_bin/postgres" >&2; return 1; }
}

# Runs a command as the unprivileged user that owns the data directory.
# Runs a command as the unprivileged user that owns the data directory, from inside that
# directory (root's working directory may be closed to it). setpriv execs: the pid of a
# background call is the command's own, so it can be signalled.
tutor_pg_como() {
  cd "$tutor_pg_dir" || return 1
  if [ "$(id -u)" -eq 0 ]; then
    exec setpriv --reuid="$tutor_pg_usuario" --regid="$(id -g "$tutor_pg_usuario")" --init-groups -- "$@"
  else
    exec "$@"
  fi
}

tutor_pg_porta_livre() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' && return 0
  fi
  # No python: probe ports until one refuses a connection.
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}

tutor_pg_parar() {
  if [ -n "${tutor_pg_pid:-}" ] && kill -0 "$tutor_pg_pid" 2>/dev/null; then
    # SIGINT is postgres' "fast" shutdown: sessions are cut, the server exits at once.
    kill -INT "$tutor_pg_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$tutor_pg_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$tutor_pg_pid" 2>/dev/null || true
  fi
  tutor_pg_pid=""
  if [ -n "${tutor_pg_dir:-}" ]; then rm -rf "$tutor_pg_dir"; fi
  tutor_pg_dir=""
}

tutor_pg_iniciar() {
  tutor_pg_instalar || return 1
  if [ "$(id -u)" -eq 0 ]; then
    tutor_pg_usuario=postgres
    if ! getent passwd "$tutor_pg_usuario" >/dev/null; then
      useradd --system --no-create-home --shell /usr/sbin/nologin "$tutor_pg_usuario"
    fi
  else
    tutor_pg_usuario="$(id -un)"
  fi
  tutor_pg_dir="$(mktemp -d "${TMPDIR:-/tmp}/tutor-pg.XXXXXX")"
  chmod 700 "$tutor_pg_dir"
  [ "$(id -u)" -ne 0 ] || chown "$tutor_pg_usuario" "$tutor_pg_dir"
  if ! (tutor_pg_como "$tutor_pg_bin/initdb" -D "$tutor_pg_dir/data" -U postgres \
      --auth=trust --encoding=UTF8 --locale=C --no-instructions) >"$tutor_pg_dir/initdb.log" 2>&1; then
    cat "$tutor_pg_dir/initdb.log" >&2
    return 1
  fi
  local porta tentativa
  for tentativa in 1 2 3; do
    porta="$(tutor_pg_porta_livre)" || { echo "no free port" >&2; return 1; }
    # fsync and synchronous_commit stay on, as in production: a send's ack promises the row
    # is durable, and the suite should see the real cost of a commit, not a faster fake.
    # Loopback only, sockets in the temporary dir (not /var/run/postgresql), and room for
    # the connection pools of the test servers that run side by side.
    (tutor_pg_como "$tutor_pg_bin/postgres" -D "$tutor_pg_dir/data" -p "$porta" \
      -c listen_addresses=127.0.0.1 -c unix_socket_directories="$tutor_pg_dir" \
      -c fsync=on -c synchronous_commit=on -c max_connections=400 \
      -c shared_buffers=128MB -c log_min_messages=warning) \
      >"$tutor_pg_dir/postgres.log" 2>&1 &
    tutor_pg_pid=$!
    local pronto=""
    # Bounded: 30 s for the server to accept connections.
    for _ in $(seq 1 300); do
      if ! kill -0 "$tutor_pg_pid" 2>/dev/null; then break; fi
      if "$tutor_pg_bin/pg_isready" -q -h 127.0.0.1 -p "$porta" -U postgres; then pronto=1; break; fi
      sleep 0.1
    done
    if [ -n "$pronto" ]; then
      export TUTOR_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$porta/postgres"
      export TUTOR_TEST_PSQL="$tutor_pg_bin/psql"
      echo "== PostgreSQL $("$tutor_pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$porta (data in $tutor_pg_dir)"
      return 0
    fi
    # The port may have been taken between the probe and the bind: try another one.
    kill -KILL "$tutor_pg_pid" 2>/dev/null || true
    wait "$tutor_pg_pid" 2>/dev/null || true
    echo "postgres did not start on port $porta (attempt $tentativa):" >&2
    cat "$tutor_pg_dir/postgres.log" >&2
    : >"$tutor_pg_dir/postgres.log"
  done
  return 1
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
  # Sourced: start now, stop when the sourcing shell exits.
  trap tutor_pg_parar EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  tutor_pg_iniciar || { tutor_pg_parar; return 1; }
else
  set -euo pipefail
  trap tutor_pg_parar EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  tutor_pg_iniciar
  if [ $# -gt 0 ]; then
    "$@"
  else
    echo "TUTOR_TEST_POSTGRES_URL=$TUTOR_TEST_POSTGRES_URL (Ctrl-C stops it)"
    wait "$tutor_pg_pid"
  fi
fi
