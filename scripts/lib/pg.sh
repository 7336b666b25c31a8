# Shared shell functions that run a project-local PostgreSQL 15 cluster (sourced, not executed).
# PostgreSQL refuses to run as root, so as root the server runs under the `postgres` user.

# PG_BIN is resolved on first use, never when this file is sourced: on a fresh machine the
# server is installed by scripts/deps after the entry script has sourced this file.
PG_BIN=${PG_BIN:-}

# pg_bin: sets PG_BIN to the newest installed server's bin directory; fails with a clear
# message when no server is installed.
pg_bin() {
  if [[ -z $PG_BIN ]]; then
    local d
    for d in /usr/lib/postgresql/*/bin; do [[ -x $d/initdb ]] && PG_BIN=$d; done
  fi
  [[ -n $PG_BIN && -x $PG_BIN/initdb ]] || { echo "PostgreSQL server not found (install postgresql-15; scripts/deps does)" >&2; return 1; }
}

# as_pg CMD...: runs CMD as the postgres user when we are root, else as ourselves.
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pg_init DIR: creates DIR/data with trust auth on loopback, tuned for fast throwaway use when
# PG_FAST=1 (fsync off: test data is disposable); PG_CONF adds settings (one per line).
pg_init() {
  local dir=$1
  pg_bin || return 1
  mkdir -p "$dir/sock"
  if [[ $(id -u) -eq 0 ]]; then
    chown -R postgres:postgres "$dir"
    # The server runs as `postgres`, which must be able to walk every parent directory (a checkout
    # under /root, mode 700, is the usual trap).
    if ! runuser -u postgres -- test -w "$dir"; then
      echo "PostgreSQL: the postgres user cannot reach $dir (a parent directory is not searchable" \
        "by others, e.g. a checkout under /root); clone the project somewhere else, such as /work or /srv" >&2
      return 1
    fi
  fi
  if [[ ! -f "$dir/data/PG_VERSION" ]]; then
    as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; return 1; }
    {
      echo "listen_addresses = '127.0.0.1'"
      echo "unix_socket_directories = '$dir/sock'"
      echo "max_connections = 300"
      echo "shared_buffers = 128MB"
      if [[ ${PG_FAST:-0} == 1 ]]; then
        echo "fsync = off"; echo "synchronous_commit = off"; echo "full_page_writes = off"
      fi
      # Extra settings, one per line (benchmarks' A/B runs).
      if [[ -n ${PG_CONF:-} ]]; then printf '%s\n' "$PG_CONF"; fi
    } | as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
  fi
}

# pg_start DIR [PORT]: starts the cluster on PORT (or a free one), writes DIR/port.
pg_start() {
  local dir=$1 port=${2:-}
  local tries=0
  pg_bin || return 1
  while :; do
    local p=${port:-$((20000 + RANDOM % 20000))}
    if as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -o "-p $p" -l "$dir/server.log" -w -t 60 start >/dev/null 2>&1; then
      echo "$p" >"$dir/port"
      return 0
    fi
    tries=$((tries + 1))
    if [[ -n $port || $tries -ge 5 ]]; then
      tail -n 20 "$dir/server.log" >&2 2>/dev/null
      return 1
    fi
  done
}

# pg_stop DIR: fast shutdown if running.
pg_stop() {
  local dir=$1
  [[ -f "$dir/data/postmaster.pid" ]] || return 0
  pg_bin || return 1
  as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
}

# pg_dsn DIR [DBNAME]: libpq keyword/value connection string for the cluster in DIR.
pg_dsn() {
  echo "host=127.0.0.1 port=$(cat "$1/port") user=postgres dbname=${2:-postgres}"
}
