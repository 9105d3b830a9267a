#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for the metering tests and prints the
# connection URL they read from MOXIE_TEST_PG_URL. Use it as:
#   eval "$(bash tests/metering/pg.sh start)"   # exports MOXIE_TEST_PG_URL
#   ... run the tests ...
#   bash tests/metering/pg.sh stop
# The cluster lives under $MOXIE_PG_DIR (default /tmp/moxie-pg), listens only on a
# Unix socket in that folder (no TCP port to collide with), and is owned by the
# 'postgres' system user because PostgreSQL refuses to run as root.
set -euo pipefail
dir="${MOXIE_PG_DIR:-/tmp/moxie-pg}"
db=moxie_test

bin_dir() {
  local v
  v=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n1)
  [ -n "$v" ] || { echo "pg.sh: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
  echo "/usr/lib/postgresql/$v/bin"
}

as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"; else su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; fi
}

start() {
  local bin; bin=$(bin_dir)
  if [ ! -d "$dir/data" ]; then
    mkdir -p "$dir"
    chown postgres:postgres "$dir"
    as_postgres "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync > "$dir/initdb.log"
  fi
  if ! as_postgres "$bin/pg_ctl" -D "$dir/data" status > /dev/null 2>&1; then
    # fsync stays on: the crash tests rely on committed rows surviving.
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o "-k $dir -c listen_addresses='' -c max_connections=300" start > /dev/null
  fi
  if ! as_postgres "$bin/psql" -h "$dir" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1; then
    as_postgres "$bin/createdb" -h "$dir" -U postgres "$db"
  fi
  echo "export MOXIE_TEST_PG_URL='postgresql://postgres@/$db?host=$dir'"
}

stop() {
  local bin; bin=$(bin_dir)
  [ -d "$dir/data" ] && as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast stop > /dev/null 2>&1 || true
  rm -rf "$dir"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: pg.sh start|stop" >&2; exit 2 ;;
esac
