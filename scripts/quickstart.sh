#!/usr/bin/env bash
# The README's two commands, for a fresh Debian 12 machine (run as root, or as
# a user with sudo: sudo is used for apt only).
#
#   scripts/quickstart.sh run    install what is missing, build, start a
#                                throwaway PostgreSQL and pggat in front of it
#                                (examples/session.json), wait for Ctrl-C
#   scripts/quickstart.sh test   install what is missing, build, run the tests
#                                (with g++, then a smoke of bench/run.py, then
#                                the tests again with clang 14), then the
#                                fuzzers for about half a minute (scripts/fuzz.sh)
#
# Environment:
#   PGGAT_BIN            pggat binary for `run` (default build/pggat-cli/pggat)
#   PGGAT_READY_TIMEOUT  seconds `run` waits for pggat to listen (default 30)
#   PGGAT_SKIP_CLANG=1   `test` skips the second (clang) build and the fuzzers
#   PGGAT_SKIP_FUZZ=1    `test` skips the fuzzers
#   PGGAT_SKIP_BENCH=1   `test` skips the benchmark smoke
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_ROOT
readonly THROWAWAY="$REPO_ROOT/scripts/throwaway-postgres.sh"
# Debian's python, not a pyenv/venv python3 that may come first on PATH.
readonly PYTHON=/usr/bin/python3

# pgbench has no package of its own on Debian 12: postgresql-15 ships
# /usr/lib/postgresql/15/bin/pgbench (postgresql-contrib-15 is only a virtual
# package there). clang is for the fuzzer.
readonly PACKAGES=(
  meson ninja-build pkg-config g++ clang
  libasio-dev libssl-dev nlohmann-json3-dev libcli11-dev catch2 libpqxx-dev
  prometheus-cpp-dev libabsl-dev libspdlog-dev
  postgresql-15 postgresql-client-15 pgbouncer
  python3-psycopg python3-asyncpg python3-matplotlib
)
# Only the tests' client drivers need these: JDBC (a JDK, since the client
# runs in source-file mode) and node-postgres (from npm, see install_node_client).
readonly TEST_PACKAGES=(default-jdk-headless libpostgresql-jdbc-java)
readonly NODE_CLIENT_DIR="$REPO_ROOT/tests/integration/clients/node"

# State for cleanup(), which runs on every exit.
POLICY_RC_CREATED=false
TMP_DIR=
PGGAT_PID=
TAIL_PID=
SERVING=false

log() { echo "quickstart: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

usage() {
  sed -n '2,17s/^# \{0,1\}//p' "$0"
}

as_root() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  else
    sudo "$@"
  fi
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n "$TAIL_PID" ]]; then
    kill "$TAIL_PID" 2>/dev/null || true
    wait "$TAIL_PID" 2>/dev/null || true
  fi
  if [[ -n "$PGGAT_PID" ]] && kill -0 "$PGGAT_PID" 2>/dev/null; then
    log "stopping pggat (pid $PGGAT_PID)"
    kill -TERM "$PGGAT_PID" 2>/dev/null || true
    # pggat exits on SIGTERM; give it 10 s before forcing it.
    local i
    for ((i = 0; i < 100; i++)); do
      kill -0 "$PGGAT_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$PGGAT_PID" 2>/dev/null; then
      log "pggat ignored SIGTERM for 10 s, killing it"
      kill -KILL "$PGGAT_PID" 2>/dev/null || true
    fi
    wait "$PGGAT_PID" 2>/dev/null || true
  fi
  if [[ -n "$TMP_DIR" ]]; then
    log "stopping PostgreSQL and removing $TMP_DIR"
    "$THROWAWAY" stop "$TMP_DIR/pg" || log "warning: stopping PostgreSQL failed"
    rm -rf -- "$TMP_DIR"
  fi
  if $POLICY_RC_CREATED; then
    as_root rm -f /usr/sbin/policy-rc.d || true
  fi
  exit "$status"
}

on_signal() {
  # Ctrl-C is how `run` is meant to end: that is a success.
  if $SERVING; then
    echo >&2
    exit 0
  fi
  exit 130
}

missing_packages() {
  local pkg
  for pkg in "$@"; do
    if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" != installed ]]; then
      echo "$pkg"
    fi
  done
}

# install_packages PACKAGE...: apt-get install those not installed yet.
install_packages() {
  if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
    die "this script needs Debian 12 (dpkg/apt); install these by hand: $*"
  fi
  local missing
  mapfile -t missing < <(missing_packages "$@")
  if ((${#missing[@]} == 0)); then
    log "all packages already installed"
    return
  fi
  if [[ $EUID -ne 0 ]] && ! command -v sudo >/dev/null; then
    die "not root and no sudo: install these as root: ${missing[*]}"
  fi
  log "installing: ${missing[*]}"

  # Installing postgresql-15 must not create the system cluster 'main'...
  if [[ ! -e /etc/postgresql-common/createcluster.conf ]]; then
    as_root mkdir -p /etc/postgresql-common
    echo 'create_main_cluster = false' |
      as_root tee /etc/postgresql-common/createcluster.conf >/dev/null
  fi
  # ...and neither postgresql nor pgbouncer may start a service: invoke-rc.d
  # asks policy-rc.d, and 101 means "not allowed". Removed again in cleanup().
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\n# scripts/quickstart.sh: no services during install\nexit 101\n' |
      as_root tee /usr/sbin/policy-rc.d >/dev/null
    POLICY_RC_CREATED=true
    as_root chmod 755 /usr/sbin/policy-rc.d
  fi

  as_root apt-get update
  # confold/UCF_FORCE_CONFFOLD: keep our createcluster.conf without a prompt.
  as_root env DEBIAN_FRONTEND=noninteractive UCF_FORCE_CONFFOLD=1 \
    apt-get install -y --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}"

  if $POLICY_RC_CREATED; then
    as_root rm -f /usr/sbin/policy-rc.d
    POLICY_RC_CREATED=false
  fi
}

build() {
  cd "$REPO_ROOT"
  if [[ ! -f build/meson-private/coredata.dat ]]; then
    log "configuring build/"
    meson setup build
  fi
  log "building (meson compile -C build -j 2)"
  meson compile -C build -j 2
}

# node-postgres at the version tests/integration/clients/node/package-lock.json
# pins, from the npm registry (Debian's node-pg cannot be installed beside a
# nodesource nodejs). Node and npm from Debian unless some are already there.
install_node_client() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    install_packages nodejs npm
  fi
  if [[ -d "$NODE_CLIENT_DIR/node_modules/pg" &&
    ! "$NODE_CLIENT_DIR/package-lock.json" -nt "$NODE_CLIENT_DIR/node_modules/.package-lock.json" ]]; then
    return
  fi
  log "installing node-postgres (npm ci in $NODE_CLIENT_DIR)"
  npm ci --prefix "$NODE_CLIENT_DIR" --no-audit --no-fund --loglevel=error
}

cmd_test() {
  install_packages "${PACKAGES[@]}" "${TEST_PACKAGES[@]}"
  install_node_client
  build
  log "running the tests"
  local status=0
  meson test -C build --print-errorlogs --num-processes 2 || status=$?
  if ((status != 0)); then
    log "tests FAILED (status $status); full log: $REPO_ROOT/build/meson-logs/testlog.txt"
    exit "$status"
  fi
  # The benchmark command must keep working: every workload against
  # PostgreSQL, PgBouncer and pggat, 2 s each, no timing judged (~45 s).
  if [[ "${PGGAT_SKIP_BENCH:-}" == 1 ]]; then
    :
  elif ((EUID != 0)); then
    log "benchmark smoke skipped: it runs PostgreSQL and PgBouncer as user postgres, which needs root"
  else
    log "benchmark smoke (bench/run.py --smoke)"
    "$PYTHON" "$REPO_ROOT/bench/run.py" --smoke --out "$REPO_ROOT/build/bench-smoke.md" || {
      status=$?
      log "benchmark smoke FAILED (status $status)"
      exit "$status"
    }
    log "A/B smoke (bench/ab.py, one round of 1 s at scale 1)"
    "$PYTHON" "$REPO_ROOT/bench/ab.py" --rounds 1 --seconds 1 --scale 1 -- -S -c 4 -j 1 || {
      status=$?
      log "A/B smoke FAILED (status $status)"
      exit "$status"
    }
  fi
  # The code must stay warning-free (-Werror) and correct under clang 14 too.
  # Unoptimised and without debug information: clang's warnings do not
  # depend on -O, the g++ build above is the optimised one, and it halves
  # the second build (14 -> 7 min on 2 cores), which keeps CI near 30 min.
  if [[ "${PGGAT_SKIP_CLANG:-}" != 1 ]]; then
    if [[ ! -f build-clang/meson-private/coredata.dat ]]; then
      log "configuring build-clang/ (clang++, -O0, no debug information)"
      CXX=clang++ meson setup build-clang -Doptimization=0 -Ddebug=false
    fi
    log "building with clang (meson compile -C build-clang -j 2)"
    meson compile -C build-clang -j 2
    log "running the tests of the clang build"
    meson test -C build-clang --print-errorlogs --num-processes 2 || status=$?
    if ((status != 0)); then
      log "clang tests FAILED (status $status); full log: $REPO_ROOT/build-clang/meson-logs/testlog.txt"
      exit "$status"
    fi
    # libFuzzer over the startup, SCRAM and codec parsers, about 10 s each,
    # in build-fuzz/ (clang, ASan, UBSan). A crash fails the run.
    if [[ "${PGGAT_SKIP_FUZZ:-}" != 1 ]]; then
      log "fuzzing (scripts/fuzz.sh)"
      "$REPO_ROOT/scripts/fuzz.sh" || {
        status=$?
        log "fuzzers FAILED (status $status)"
        exit "$status"
      }
    fi
  fi
  log "all tests passed"
  exit 0
}

# Port to listen on: 6432 as in the README when it is free, any free one else.
pick_listen_port() {
  "$PYTHON" - <<'EOF'
import socket
def try_bind(port):
    s = socket.socket()
    # Like pggat's listener: a port in TIME_WAIT from an earlier run is free.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return s.getsockname()[1]
    except OSError:
        return None
    finally:
        s.close()
print(try_bind(6432) or try_bind(0))
EOF
}

# examples/session.json with the addresses of this run; the rest unchanged.
write_config() {
  local listen_port=$1 socket_dir=$2 pg_port=$3 out=$4
  "$PYTHON" - "$REPO_ROOT/examples/session.json" "$out" "$listen_port" "$socket_dir" "$pg_port" <<'EOF'
import json, sys
src, out, listen_port, socket_dir, pg_port = sys.argv[1:]
with open(src) as f:
    config = json.load(f)
for server in config["servers"]:
    for listen in server["listen"]:
        if listen["address"].startswith("/"):
            # "/dir:port" puts the socket at /dir/.s.PGSQL.<port>, the name
            # psql looks for with host=/dir port=<port>.
            listen["address"] = f"{socket_dir}:{listen_port}"
        else:
            listen["address"] = f"127.0.0.1:{listen_port}"
    for route in server.get("routes", []):
        recipe = route.get("handle", {}).get("recipe")
        if recipe is not None:
            recipe["address"] = f"127.0.0.1:{pg_port}"
with open(out, "w") as f:
    json.dump(config, f, indent=2)
    f.write("\n")
EOF
}

show_pggat_log() {
  log "pggat log ($1):"
  if [[ -s "$1" ]]; then
    sed 's/^/  | /' "$1" >&2
  else
    echo "  | (empty)" >&2
  fi
}

wait_until_listening() {
  local port=$1 log_file=$2 timeout=${PGGAT_READY_TIMEOUT:-30}
  local deadline=$((SECONDS + timeout))
  while :; do
    if ! kill -0 "$PGGAT_PID" 2>/dev/null; then
      local status=0
      wait "$PGGAT_PID" || status=$?
      PGGAT_PID=
      show_pggat_log "$log_file"
      die "pggat exited (status $status) before listening on 127.0.0.1:$port"
    fi
    # $1 is expanded by the inner bash, hence the single quotes.
    # shellcheck disable=SC2016
    if timeout 1 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$port" 2>/dev/null; then
      return
    fi
    if ((SECONDS >= deadline)); then
      show_pggat_log "$log_file"
      die "pggat did not listen on 127.0.0.1:$port within ${timeout}s"
    fi
    sleep 0.2
  done
}

cmd_run() {
  install_packages "${PACKAGES[@]}"
  build
  local pggat_bin=${PGGAT_BIN:-$REPO_ROOT/build/pggat-cli/pggat}
  [[ -x "$pggat_bin" ]] || die "pggat binary not found or not executable: $pggat_bin"

  TMP_DIR=$(mktemp -d /tmp/pggat-qs.XXXXXX)
  chmod 755 "$TMP_DIR"  # the postgres user (when root) must reach $TMP_DIR/pg
  log "starting a throwaway PostgreSQL in $TMP_DIR/pg"
  "$THROWAWAY" start "$TMP_DIR/pg" >/dev/null
  local pg_port listen_port
  pg_port=$(<"$TMP_DIR/pg/port")
  listen_port=$(pick_listen_port)
  local socket_dir="$TMP_DIR/pggat" config="$TMP_DIR/session.json"
  local log_file="$TMP_DIR/pggat.log"
  mkdir -p "$socket_dir"
  write_config "$listen_port" "$socket_dir" "$pg_port" "$config"
  log "config ($config):"
  sed 's/^/  | /' "$config" >&2

  log "starting $pggat_bin run $config"
  "$pggat_bin" run "$config" >"$log_file" 2>&1 &
  PGGAT_PID=$!
  wait_until_listening "$listen_port" "$log_file"

  SERVING=true
  cat <<EOF

================================================================================
 pggat is running in front of a throwaway PostgreSQL. Connect with (no password: client
 auth is trust for now; pggat logs in to PostgreSQL as app / app-pass):

   psql "host=127.0.0.1 port=$listen_port user=app dbname=app"
   psql "host=$socket_dir port=$listen_port user=app dbname=app"

 PostgreSQL itself: host=127.0.0.1 port=$pg_port (superuser postgres / postgres-pass)
 config: $config
 pggat log (also shown below): $log_file
 Press Ctrl-C to stop; everything in $TMP_DIR is removed then.
================================================================================

EOF
  tail -n +1 -f --pid="$PGGAT_PID" "$log_file" >&2 &
  TAIL_PID=$!

  local status=0
  wait "$PGGAT_PID" || status=$?
  # Reached only when pggat ended on its own (Ctrl-C exits from on_signal).
  # tail stops by itself once pggat is gone; let it print the last lines.
  wait "$TAIL_PID" 2>/dev/null || true
  TAIL_PID=
  PGGAT_PID=
  SERVING=false
  die "pggat exited by itself (status $status); its log is above ($log_file)"
}

main() {
  case "${1:-}" in
    run | test)
      [[ $# -eq 1 ]] || {
        usage >&2
        exit 2
      }
      trap cleanup EXIT
      trap on_signal INT TERM
      "cmd_$1"
      ;;
    -h | --help | help)
      usage
      ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
}

main "$@"
