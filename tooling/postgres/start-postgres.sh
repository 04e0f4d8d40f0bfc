#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on 127.0.0.1 with the Debian binaries and prints
#   DATABASE_URL=postgres://postgres@127.0.0.1:<port>/postgres
#   PGTMP=<dir>           (pass to --stop to shut it down and delete it)
# Usage: start-postgres.sh [--port N]      start one
#        start-postgres.sh --stop DIR      stop one and remove its folder
# initdb and postgres refuse to run as root, so as root they run as the `postgres` user.
set -euo pipefail

bin_dir=${PG_BIN_DIR:-}
if [ -z "$bin_dir" ]; then
  for v in 17 16 15 14 13; do
    if [ -x "/usr/lib/postgresql/$v/bin/initdb" ]; then bin_dir=/usr/lib/postgresql/$v/bin; break; fi
  done
fi
if [ -z "$bin_dir" ] && command -v initdb >/dev/null 2>&1; then bin_dir=$(dirname "$(command -v initdb)"); fi
if [ -z "$bin_dir" ]; then
  echo "start-postgres: no PostgreSQL server binaries found. Install them (Debian: apt-get install -y postgresql-15) or set PG_BIN_DIR, or set DATABASE_URL to a server you have." >&2
  exit 2
fi

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ "${1:-}" = "--stop" ]; then
  dir=${2:?start-postgres: --stop needs the folder printed as PGTMP}
  as_pg "$bin_dir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  exit 0
fi

port=""
if [ "${1:-}" = "--port" ]; then port=${2:?start-postgres: --port needs a number}; fi
if [ -z "$port" ]; then
  port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
fi

dir=$(mktemp -d /tmp/crm-sync-pg.XXXXXX)
chmod 755 "$dir"
if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$dir"; fi
as_pg "$bin_dir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 || {
  echo "start-postgres: initdb failed:" >&2; cat "$dir/initdb.log" >&2; exit 1; }
as_pg "$bin_dir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
  start >/dev/null || { echo "start-postgres: the server did not start:" >&2; cat "$dir/server.log" >&2; exit 1; }
echo "DATABASE_URL=postgres://postgres@127.0.0.1:$port/postgres"
echo "PGTMP=$dir"
