#!/usr/bin/env bash
# Start or stop a throwaway PostgreSQL 15 cluster in a directory of its own,
# and streaming replicas of it.
#
#   throwaway-postgres.sh start DIR   initdb DIR/data, start on a free port,
#                                     create the test roles, print PORT=<n>
#   throwaway-postgres.sh stop DIR    stop that cluster (or replica: also drop
#                                     its slot on the primary) and remove DIR
#   throwaway-postgres.sh replica PRIMARY_DIR DIR
#        first time: pg_basebackup -R of the running primary started in
#        PRIMARY_DIR, with a replication slot of its own, started on a free
#        port; later: start it again on the same port. Prints SLOT=<slot
#        name> (also its application_name on the primary) and PORT=<n>.
#   throwaway-postgres.sh halt DIR    stop it like a crash (immediate), keep DIR
#
# This is the one place that knows how the test PostgreSQL is set up; the C++
# test harness (tests/support/postgres_server.cpp, replica_set.cpp) and
# scripts/quickstart.sh call it. It never touches a system cluster or service:
# everything lives under DIR. Keep DIR short (e.g. /tmp/pggat-xyz): unix
# socket paths are limited to 107 bytes.
#
# Layout of DIR: data/ (the cluster), socket/ (unix socket), postgresql.log,
# port (the port number), .throwaway-postgres (marks a DIR that stop may rm);
# a replica's also slot (its slot name) and primary (PRIMARY_DIR).
#
# Roles (passwords, and the pg_hba.conf method each one must use):
#   postgres  / postgres-pass  superuser   scram-sha-256
#   app       / app-pass       owns db app scram-sha-256
#   md5user   / md5-pass       MD5 hash    md5
#   plainuser / plain-pass                 password (cleartext)
# A replica is a copy: same roles and passwords.
#
# Replication: wal_level stays at its default (replica), and postgres may
# connect for replication over 127.0.0.1 and the socket (scram-sha-256). A
# replica's slot keeps on the primary the WAL it has not received yet, so a
# halted replica catches up when started again.
set -euo pipefail

readonly MARKER=.throwaway-postgres
readonly SUPERUSER_PASSWORD=postgres-pass
# For streaming replicas; "all" in the other lines never matches the
# replication pseudo-database, so these change nothing for them.
readonly REPLICATION_HBA='local   replication  postgres                  scram-sha-256
host    replication  postgres   127.0.0.1/32   scram-sha-256'

usage() {
  sed -n '2,36s/^# \{0,1\}//p' "$0"
  echo
  echo "usage: $0 start DIR | stop DIR | replica PRIMARY_DIR DIR | halt DIR"
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

# psql as the superuser: psql_at SOCKET_DIR PORT ARGS...
psql_at() {
  PGPASSWORD=$SUPERUSER_PASSWORD PGCONNECT_TIMEOUT=5 "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 \
    -h "$1" -p "$2" -U postgres "${@:3}"
}

psql_super() {
  psql_at "$DIR/socket" "$@"
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
  printf '%s\n' "$REPLICATION_HBA" >>"$DIR/data/pg_hba.conf"
  [[ $EUID -ne 0 ]] || chown postgres: "$DIR/data/postgresql.conf" "$DIR/data/pg_hba.conf"
}

start_server() {
  local attempt port keep=false
  # A replica keeps its port across halt and start: tests (and pggat
  # configs) hold its address.
  [[ -f "$DIR/slot" && -f "$DIR/port" ]] && keep=true
  for attempt in 1 2 3 4 5; do
    if $keep; then
      port=$(<"$DIR/port")
    else
      port=$(free_port)
    fi
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
    if ! $keep && grep -q "could not bind\|Address already in use" "$DIR/postgresql.log" 2>/dev/null; then
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

# DIR made (or checked to be ours), owned by the server's user, and the
# working directory: as root, the caller's directory (e.g. /root) may not be
# readable by postgres, which initdb and pg_basebackup hate.
prepare_dir() {
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
  cd "$DIR"
}

cmd_start() {
  BINDIR=$(find_bindir)
  [[ ! -e "$DIR/slot" ]] || die "$DIR holds a replica: use replica PRIMARY_DIR DIR"
  prepare_dir

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

# Only what is missing: a primary made before this script allowed
# replication gets the pg_hba.conf lines now (and a reload).
prepare_primary() {
  local level senders
  level=$(psql_at "$PRIMARY/socket" "$PRIMARY_PORT" -At -d postgres -c 'SHOW wal_level')
  [[ "$level" == replica || "$level" == logical ]] ||
    die "primary has wal_level = $level; replicas need replica (and a restart of the primary)"
  senders=$(psql_at "$PRIMARY/socket" "$PRIMARY_PORT" -At -d postgres -c 'SHOW max_wal_senders')
  ((senders >= 4)) || die "primary has max_wal_senders = $senders; need 4 (2 replicas and slack)"
  if ! grep -Eq '^[[:space:]]*host[[:space:]]+replication[[:space:]]' "$PRIMARY/data/pg_hba.conf"; then
    as_owner tee -a "$PRIMARY/data/pg_hba.conf" >/dev/null <<<"$REPLICATION_HBA"
    psql_at "$PRIMARY/socket" "$PRIMARY_PORT" -d postgres -c 'SELECT pg_reload_conf()' >/dev/null
  fi
}

base_backup() {
  # Slot names: lowercase letters, digits, underscores; one per DIR.
  local slot
  slot="replica_$(printf '%s' "$DIR" | md5sum | cut -c1-16)"
  local conninfo="host=127.0.0.1 port=$PRIMARY_PORT user=postgres password=$SUPERUSER_PASSWORD"
  # -R writes primary_conninfo and primary_slot_name, -C -S make the slot;
  # -c fast: no waiting for a spread checkpoint; -N: thrown away anyway.
  if ! as_owner "$BINDIR/pg_basebackup" -D "$DIR/data" -d "$conninfo" -R -C -S "$slot" \
      -X stream -c fast -N -w >"$DIR/basebackup.log" 2>&1; then
    cat "$DIR/basebackup.log" >&2
    die "pg_basebackup failed (log above, also in $DIR/basebackup.log)"
  fi
  # Later lines win over the primary's copied ones.
  as_owner tee -a "$DIR/data/postgresql.conf" >/dev/null <<EOF

# --- throwaway-postgres.sh replica ---
unix_socket_directories = '$DIR/socket'
cluster_name = '$slot'
EOF
  echo "$PRIMARY" >"$DIR/primary"
  rm -f "$DIR/port"
  echo "$slot" >"$DIR/slot"
}

cmd_replica() {
  BINDIR=$(find_bindir)
  [[ -f "$PRIMARY/port" && -e "$PRIMARY/$MARKER" && ! -e "$PRIMARY/slot" ]] ||
    die "$PRIMARY is not a primary made by this script"
  PRIMARY_PORT=$(<"$PRIMARY/port")
  [[ -e "$DIR/slot" || ! -e "$DIR/data" ]] || die "$DIR holds a primary, not a replica"
  prepare_dir
  if [[ ! -f "$DIR/data/PG_VERSION" ]]; then
    prepare_primary
    base_backup
  fi
  if ! is_running; then
    start_server
  fi
  echo "SLOT=$(<"$DIR/slot")"
  echo "PORT=$(<"$DIR/port")"
}

cmd_halt() {
  [[ -e "$DIR/$MARKER" ]] || die "$DIR was not made by this script"
  BINDIR=$(find_bindir)
  cd "$DIR"
  if is_running; then
    as_owner "$BINDIR/pg_ctl" -D "$DIR/data" -m immediate -w -t 30 stop >/dev/null
  fi
}

# A replica's slot on its primary, if that still runs: else the primary keeps
# WAL for it forever. The walsender holds the slot a moment after the replica
# has gone. Best effort: at process exit the primary may be stopping too.
drop_slot() {
  local slot primary port attempt
  slot=$(<"$DIR/slot")
  primary=$(<"$DIR/primary")
  [[ -f "$primary/port" ]] || return 0
  port=$(<"$primary/port")
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    psql_at "$primary/socket" "$port" -At -d postgres -c "SELECT pg_drop_replication_slot(slot_name)
        FROM pg_replication_slots WHERE slot_name = '$slot' AND NOT active" >/dev/null 2>&1 ||
      return 0 # the primary is gone
    [[ -n "$(psql_at "$primary/socket" "$port" -At -d postgres -c \
      "SELECT 1 FROM pg_replication_slots WHERE slot_name = '$slot'" 2>/dev/null)" ]] || return 0
    sleep 0.2
  done
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
  if [[ -f "$DIR/slot" ]]; then
    drop_slot || true
  fi
  rm -rf -- "$DIR"
}

main() {
  case "${1:-}" in
    -h | --help | help)
      usage
      ;;
    replica)
      [[ $# -eq 3 ]] || {
        usage >&2
        exit 2
      }
      PRIMARY=$(checked_dir "$2")
      DIR=$(checked_dir "$3")
      cmd_replica
      ;;
    start | stop | halt)
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
