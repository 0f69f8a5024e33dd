#!/usr/bin/env bash
# What the hybrid pool costs and what it spreads: pgbench against a throwaway
# primary with two streaming replicas, run in the same way directly, through
# pggat's basic transaction pool (primary only) and through the hybrid pool.
#
#   bench/hybrid.sh [BUILD_DIR]     (default build/; needs PostgreSQL 15 and pgbench)
#
# Env: SCALE (pgbench scale, 10), CLIENTS (16), SECONDS_PER_RUN (10).
# Prints one line per run: tps, and for the hybrid pool how the select-only
# transactions split between the replicas (from pg_stat_database). All
# processes share this machine's cores: read the ratios, not the absolutes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build}
scale=${SCALE:-10}
clients=${CLIENTS:-16}
seconds=${SECONDS_PER_RUN:-10}
pgbin=/usr/lib/postgresql/15/bin
pgbench=$pgbin/pgbench; [[ -x $pgbench ]] || pgbench=pgbench
psql=$pgbin/psql; [[ -x $psql ]] || psql=psql

work=$(mktemp -d /tmp/pggat-bench-XXXXXX)
chmod 1777 "$work"  # the clusters run as user postgres
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for d in r1 r0 primary; do [[ -d $work/$d ]] && scripts/throwaway-postgres.sh stop "$work/$d" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

port_of() { sed -n 's/^PORT=//p' <<<"$1"; }
primary_port=$(port_of "$(scripts/throwaway-postgres.sh start "$work/primary")")
r0_port=$(port_of "$(scripts/throwaway-postgres.sh replica "$work/primary" "$work/r0")")
r1_port=$(port_of "$(scripts/throwaway-postgres.sh replica "$work/primary" "$work/r1")")
export PGPASSWORD=app-pass
"$pgbench" -h 127.0.0.1 -p "$primary_port" -U app -i -q -s "$scale" app >/dev/null 2>&1
sleep 2  # let the replicas replay the load (pgbench -S only reads)

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
recipe() { echo "{\"address\": \"127.0.0.1:$1\", \"username\": \"app\", \"password\": \"app-pass\", \"database\": \"app\", \"max_connections\": $clients}"; }
start_pggat() {  # name pool-json replicas-json
  local port; port=$(free_port)
  cat >"$work/$1.json" <<JSON
{"servers": [{"listen": [{"address": "127.0.0.1:$port"}],
  "routes": [{"handle": {"handler": "pool", "pool": $2, "recipe": $(recipe "$primary_port") $3}}]}]}
JSON
  "$build/pggat-cli/pggat" run "$work/$1.json" >"$work/$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
  echo "$port"
}
commits() { "$psql" -h 127.0.0.1 -p "$1" -U app -d app -Atc "select xact_commit from pg_stat_database where datname = 'app'"; }
run() {  # label port pgbench-args...
  local label=$1 port=$2; shift 2
  local out; out=$("$pgbench" -h 127.0.0.1 -p "$port" -U app -c "$clients" -j 2 -T "$seconds" -n "$@" app 2>&1)
  local tps failed
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out")
  failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out")
  printf '%-34s %10s tps  failed %s\n' "$label" "$tps" "${failed:-?}"
}

basic=$(start_pggat basic '{"pool": "basic", "mode": "transaction"}' '')
hybrid=$(start_pggat hybrid '{"pool": "hybrid"}' ", \"replicas\": [$(recipe "$r0_port"), $(recipe "$r1_port")]")

echo "scale $scale, $clients clients, ${seconds}s per run, $(nproc) cores"
run "select-only, direct to primary" "$primary_port" -S
run "select-only, basic pool (primary)" "$basic" -S
before0=$(commits "$r0_port"); before1=$(commits "$r1_port")
run "select-only, hybrid pool" "$hybrid" -S
sleep 1  # pg_stat_database is flushed at most once a second
after0=$(commits "$r0_port"); after1=$(commits "$r1_port")
echo "  hybrid select-only commits on replica0: $((after0 - before0)), replica1: $((after1 - before1))"
run "tpc-b, direct to primary" "$primary_port"
run "tpc-b, basic pool (primary)" "$basic"
run "tpc-b, hybrid pool (rw: replayed)" "$hybrid"
