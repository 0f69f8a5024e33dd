#!/usr/bin/env bash
# Start or stop a throwaway PostgreSQL 15 cluster in a directory of its own.
#
#   throwaway-postgres.sh start DIR   initdb DIR/data, start on a free port,
#                                     create the test roles, print PORT=<n>
#   throwaway-postgres.sh stop DIR    stop that cluster and remove DIR
#
# This is the one place that knows how the test PostgreSQL is set up; the C++
# test harness (tests/support/postgres_server.cpp) and scripts/quickstart.sh
# both call it. It never touches a system cluster or service: everything lives
# under DIR. Keep DIR short (e.g. /tmp/pggat-xyz): unix socket paths are
# limited to 107 bytes.
#
# Layout of DIR: data/ (the cluster), socket/ (unix socket), postgresql.log,
# port (the port number), .throwaway-postgres (marks a DIR that stop may rm).
#
# Roles (passwords, and the pg_hba.conf method each one must use):
#   postgres  / postgres-pass  superuser   scram-sha-256
#   app       / app-pass       owns db app scram-sha-256
#   md5user   / md5-pass       MD5 hash    md5
#   plainuser / plain-pass                 password (cleartext)
set -euo pipefail

readonly MARKER=.throwaway-postgres
readonly SUPERUSER_PASSWORD=postgres-pass

usage() {
  sed -n '2,21s/^# \{0,1\}//p' "$0"
  echo
  echo "usage: $0 start DIR | stop DIR"
}

die() {
  echo "throwaway-postgres: $*" >&2
  exit 1
}

find_bindir() {
  local dir
  for dir in /usr/lib/postgresql/15/bin "$(pg_config --bindir 2>/dev/null || true)"; do
    if [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
      echo "$dir"
      return
    fi
  done
  die "PostgreSQL 15 server binaries not found (install postgresql-15)"
}

# Refuse anything that could make `rm -rf DIR` a disaster.
checked_dir() {
  local dir=${1:-}
  [[ -n "$dir" ]] || die "DIR must not be empty"
  dir=$(realpath -m -- "$dir")
  [[ "$dir" != / ]] || die "refusing to use / as DIR"
  echo "$dir"
}

# initdb and the postmaster refuse to run as root, so as root they run as the
# postgres system user; as anyone else they run as that user.
as_owner() {
  if [[ $EUID -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  if [[ -x /usr/bin/python3 ]]; then
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
  else
    # No python: a random high port; start retries if it is taken.
    echo $((20000 + RANDOM % 40000))
  fi
}

is_running() {
  as_owner "$BINDIR/pg_ctl" status -D "$DIR/data" >/dev/null 2>&1
}

psql_super() {
  PGPASSWORD=$SUPERUSER_PASSWORD "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 \
    -h "$DIR/socket" -p "$1" -U postgres "${@:2}"
}

init_cluster() {
  local pwfile="$DIR/.pwfile"
  printf '%s\n' "$SUPERUSER_PASSWORD" >"$pwfile"
  [[ $EUID -ne 0 ]] || chown postgres: "$pwfile"
  # --no-sync and the fsync settings below: test speed, the data is thrown away.
  if ! as_owner "$BINDIR/initdb" -D "$DIR/data" -U postgres --pwfile="$pwfile" \
      --auth=scram-sha-256 --encoding=UTF8 --no-locale --no-sync \
      >"$DIR/initdb.log" 2>&1; then
    cat "$DIR/initdb.log" >&2
    die "initdb failed (log above, also in $DIR/initdb.log)"
  fi
  rm -f "$pwfile"

  cat >>"$DIR/data/postgresql.conf" <<EOF

# --- throwaway-postgres.sh ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR/socket'
password_encryption = 'scram-sha-256'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
log_connections = on
log_line_prefix = '%m [%p] %q%u@%d '
# Rewritten on every start with the port picked then.
include_if_exists 'port.conf'
EOF

  # First matching line wins: the two special users first, SCRAM for the rest.
  cat >"$DIR/data/pg_hba.conf" <<'EOF'
# TYPE  DATABASE  USER       ADDRESS       METHOD
local   all       plainuser                password
host    all       plainuser  127.0.0.1/32  password
host    all       plainuser  ::1/128       password
local   all       md5user                  md5
host    all       md5user    127.0.0.1/32  md5
host    all       md5user    ::1/128       md5
local   all       all                      scram-sha-256
host    all       all        127.0.0.1/32  scram-sha-256
host    all       all        ::1/128       scram-sha-256
EOF
  [[ $EUID -ne 0 ]] || chown postgres: "$DIR/data/postgresql.conf" "$DIR/data/pg_hba.conf"
}

start_server() {
  local attempt port
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    echo "port = $port" >"$DIR/data/port.conf"
    # Fresh log per attempt, so the bind check below sees only this attempt.
    : >"$DIR/postgresql.log"
    [[ $EUID -ne 0 ]] || chown postgres: "$DIR/data/port.conf" "$DIR/postgresql.log"
    if as_owner "$BINDIR/pg_ctl" -D "$DIR/data" -l "$DIR/postgresql.log" -w -t 60 \
        start >"$DIR/pg_ctl.log" 2>&1; then
      echo "$port" >"$DIR/port"
      return
    fi
    # Someone else may have grabbed the port between picking and binding it.
    if grep -q "could not bind\|Address already in use" "$DIR/postgresql.log" 2>/dev/null; then
      echo "throwaway-postgres: port $port taken (attempt $attempt), retrying" >&2
      continue
    fi
    break
  done
  cat "$DIR/pg_ctl.log" >&2
  tail -n 30 "$DIR/postgresql.log" >&2 2>/dev/null || true
  die "PostgreSQL did not start (log: $DIR/postgresql.log)"
}

create_roles() {
  # One statement per line, each in its own transaction: CREATE DATABASE
  # cannot run inside a transaction block.
  psql_super "$1" -d postgres <<'EOF'
CREATE ROLE app LOGIN PASSWORD 'app-pass';
CREATE DATABASE app OWNER app;
SET password_encryption = 'md5';
CREATE ROLE md5user LOGIN PASSWORD 'md5-pass';
RESET password_encryption;
CREATE ROLE plainuser LOGIN PASSWORD 'plain-pass';
GRANT CONNECT ON DATABASE app, postgres TO app, md5user, plainuser;
\connect app
GRANT ALL ON SCHEMA public TO md5user, plainuser;
EOF
}

cmd_start() {
  BINDIR=$(find_bindir)
  mkdir -p "$DIR"
  if [[ ! -e "$DIR/$MARKER" ]] && [[ -n "$(ls -A "$DIR")" ]]; then
    die "$DIR is not empty and was not made by this script"
  fi
  touch "$DIR/$MARKER"
  mkdir -p "$DIR/socket"
  local sock="$DIR/socket/.s.PGSQL.65535"
  ((${#sock} <= 107)) || die "DIR too long for a unix socket path: $sock"
  # Others may need to reach the socket; data/ itself stays 0700 (initdb).
  chmod 755 "$DIR" "$DIR/socket"
  if [[ $EUID -eq 0 ]]; then
    chown -R postgres: "$DIR"
    runuser -u postgres -- test -w "$DIR" ||
      die "user postgres cannot write $DIR (a parent directory not reachable?)"
  fi
  # Everything below runs with DIR as working directory: as root, the caller's
  # directory (e.g. /root) may not be readable by postgres, which initdb hates.
  cd "$DIR"

  local fresh=false
  if [[ ! -f "$DIR/data/PG_VERSION" ]]; then
    init_cluster
    fresh=true
  fi
  if ! is_running; then
    start_server
  fi
  local port
  port=$(<"$DIR/port")
  if $fresh || [[ ! -e "$DIR/.roles" ]]; then
    if ! create_roles "$port" >"$DIR/roles.log" 2>&1; then
      cat "$DIR/roles.log" >&2
      as_owner "$BINDIR/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
      die "creating roles failed (cluster stopped; DIR kept for inspection: $DIR)"
    fi
    touch "$DIR/.roles"
  fi
  echo "PORT=$port"
}

cmd_stop() {
  if [[ ! -e "$DIR" ]]; then
    return 0
  fi
  if [[ ! -e "$DIR/$MARKER" ]] && [[ -n "$(ls -A "$DIR")" ]]; then
    die "refusing to remove $DIR: it was not made by this script"
  fi
  if [[ -f "$DIR/data/postmaster.pid" ]]; then
    BINDIR=$(find_bindir)
    cd "$DIR"
    if ! as_owner "$BINDIR/pg_ctl" -D "$DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1; then
      echo "throwaway-postgres: fast stop failed, stopping immediately" >&2
      as_owner "$BINDIR/pg_ctl" -D "$DIR/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
    # Last resort: the postmaster this cluster wrote down, and only that one.
    if [[ -f "$DIR/data/postmaster.pid" ]]; then
      local pid
      pid=$(head -n 1 "$DIR/data/postmaster.pid")
      if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
      fi
    fi
    cd /
  fi
  rm -rf -- "$DIR"
}

main() {
  case "${1:-}" in
    -h | --help | help)
      usage
      ;;
    start | stop)
      [[ $# -eq 2 ]] || {
        usage >&2
        exit 2
      }
      DIR=$(checked_dir "$2")
      "cmd_$1"
      ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
}

main "$@"
