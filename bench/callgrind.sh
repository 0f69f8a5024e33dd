#!/usr/bin/env bash
# Instructions pggat spends per transaction (or per connection), counted by
# callgrind: repeatable for the same binary whatever else the machine does,
# where wall-clock figures here drift by 15%.
#
#   bench/callgrind.sh [select|connect|tpcb] [OUT_DIR]
#
#   select   pgbench -S -M simple -c 10 -j 1 -t 400: 4,000 select-only
#            transactions on 10 clients (the default). CLIENTS=50: 50
#            clients sharing the 20 servers, so most of them wait for one.
#            PROTOCOL=extended or prepared: pgbench -M extended or prepared.
#   connect  pgbench -S -C -c 4 -j 1 -t 250: 1,000 connections, each a
#            startup, one select and a Terminate
#   tpcb     pgbench's default script (seven statements per transaction,
#            row locks held across them), 1,000 transactions on CLIENTS
#            clients (10; CLIENTS=50 as in the bench's (g))
#
# Starts a throwaway PostgreSQL (scale 1) and pggat under valgrind (`threads`
# 1, transaction mode, max_connections 20, trust for clients), warms it up
# (the pool's servers dialled: a dial's SCRAM is millions of instructions,
# once per server), zeroes the counters, runs the workload and prints the
# instructions per transaction. The callgrind output stays in OUT_DIR
# (default: a new temporary directory) for callgrind_annotate.
# Needs valgrind and pgbench; the build in build/.
#
# Not for PgBouncer: under valgrind, some 50 times slower, its
# once-a-second work outweighs the transactions (19,000 instructions counted
# per transaction, where it spends 3 us of user time on one at full speed).
set -euo pipefail

WORKLOAD=${1:-select}
CLIENTS=${CLIENTS:-10}
PROTOCOL=${PROTOCOL:-simple}
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PGBENCH=/usr/lib/postgresql/15/bin/pgbench
[[ -x $PGBENCH ]] || PGBENCH=pgbench
OUT=${2:-$(mktemp -d /tmp/pggat-callgrind.XXXXXX)}
mkdir -p "$OUT"

case $WORKLOAD in
  select)
    RUN=(-S -M "$PROTOCOL" -c "$CLIENTS" -j 1 -t $((4000 / CLIENTS)))
    COUNT=$((4000 / CLIENTS * CLIENTS))
    WARM=(-S -M "$PROTOCOL" -c "$CLIENTS" -j 1 -t 20)
    ;;
  connect)
    RUN=(-S -C -c 4 -j 1 -t 250)
    COUNT=1000
    WARM=(-S -M simple -c 20 -j 1 -t 20)
    ;;
  tpcb)
    RUN=(-M "$PROTOCOL" -c "$CLIENTS" -j 1 -t $((1000 / CLIENTS)))
    COUNT=$((1000 / CLIENTS * CLIENTS))
    WARM=(-S -M "$PROTOCOL" -c "$CLIENTS" -j 1 -t 20)
    ;;
  *)
    echo "usage: $0 [select|connect|tpcb] [OUT_DIR]" >&2
    exit 2
    ;;
esac

PG_DIR=$(mktemp -u /tmp/pggat-cg-pg.XXXXXX)
PGGAT_PID=
cleanup() {
  if [[ -n $PGGAT_PID ]]; then
    kill "$PGGAT_PID" 2>/dev/null || true
    wait "$PGGAT_PID" 2>/dev/null || true
  fi
  "$REPO_ROOT/scripts/throwaway-postgres.sh" stop "$PG_DIR" >/dev/null 2>&1 || true
}
trap cleanup EXIT

PG_PORT=$("$REPO_ROOT/scripts/throwaway-postgres.sh" start "$PG_DIR" | sed -n 's/^PORT=//p')
export PGPASSWORD=app-pass
"$PGBENCH" -h 127.0.0.1 -p "$PG_PORT" -U app -i -q -s 1 app >/dev/null 2>&1
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

cat >"$OUT/pggat.json" <<EOF
{"threads": 1, "servers": [{"listen": [{"address": "127.0.0.1:$PORT"}], "routes": [{"handle": {
  "handler": "pool", "pool": {"pool": "basic", "mode": "transaction"},
  "recipe": {"address": "127.0.0.1:$PG_PORT", "username": "app", "password": "app-pass",
             "database": "app", "max_connections": 20}}}]}]}
EOF
valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out" \
  "$REPO_ROOT/build/pggat-cli/pggat" run "$OUT/pggat.json" >"$OUT/pggat.log" 2>&1 &
PGGAT_PID=$!

# Under valgrind pggat takes seconds to listen.
listening=false
for _ in $(seq 600); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    listening=true
    break
  fi
  kill -0 "$PGGAT_PID" 2>/dev/null || break
  sleep 0.1
done
$listening || { echo "pggat did not listen; see $OUT/pggat.log" >&2; exit 1; }

"$PGBENCH" -h 127.0.0.1 -p "$PORT" -U app -n "${WARM[@]}" app >/dev/null
callgrind_control -z "$PGGAT_PID" >/dev/null 2>&1
"$PGBENCH" -h 127.0.0.1 -p "$PORT" -U app -n "${RUN[@]}" app >"$OUT/pgbench.log"
callgrind_control -d "$PGGAT_PID" >/dev/null 2>&1
kill "$PGGAT_PID"
wait "$PGGAT_PID" 2>/dev/null || true
PGGAT_PID=

# The dump taken after the zeroing holds the run alone (callgrind.out.1); the
# one written at exit holds the rest.
DUMP="$OUT/callgrind.out.1"
TOTAL=$(callgrind_annotate "$DUMP" | sed -n 's/^\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,)
echo "pggat $WORKLOAD: $((TOTAL / COUNT)) instructions per transaction ($TOTAL over $COUNT; $DUMP)"
