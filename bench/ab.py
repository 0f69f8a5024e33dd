#!/usr/bin/python3
"""Builds of pggat against each other and PgBouncer, interleaved: the A/B of a change.

    bench/ab.py [--pggat NAME=BUILD[:THREADS[:FILL]]]... [--rounds 4] [--seconds 5]
                [--scale 10] [--no-pgbouncer] [-- PGBENCH ARGUMENTS]

Starts a throwaway PostgreSQL and PgBouncer as bench/run.py does, and one
pggat per --pggat (BUILD's pggat-cli/pggat, with `threads` THREADS and
`thread_fill` FILL, or their defaults), then runs pgbench with the given arguments (default: -S -M simple
-c 50 -j 2) against each in turn, `rounds` times, and prints the medians of
tps and of user and system CPU per transaction (µs, from /proc) for each,
with tps over PgBouncer's (the median of the ratios within each round, and
their range). bench/run.py compares poolers; this compares
builds or settings of one: build the tree a change came from beside it
(git worktree add /tmp/base HEAD~1, then meson setup and compile there) and
run both, e.g.

    bench/ab.py --pggat base=/tmp/base/build --pggat new=build -- -S -M simple -C -c 20 -j 2

Single rounds move by 10-15% on a 2-core machine shared with PostgreSQL:
take more rounds before believing a difference of a few percent.
"""

import argparse
import importlib.util
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("bench_run", os.path.join(HERE, "run.py"))
run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run)

DEFAULT_PGBENCH = ["-S", "-M", "simple", "-c", "50", "-j", "2"]


def user_system_seconds(pid):
    """utime and stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def parse_pggat(text):
    name, sep, rest = text.partition("=")
    if not sep or not name or not rest:
        raise argparse.ArgumentTypeError(f"--pggat {text!r}: expected NAME=BUILD[:THREADS[:FILL]]")
    build, _, settings = rest.partition(":")
    threads, _, fill = settings.partition(":")
    if (threads and not threads.isdigit()) or (fill and not fill.isdigit()):
        raise argparse.ArgumentTypeError(f"--pggat {text!r}: THREADS and FILL must be numbers")
    if not os.path.exists(os.path.join(build, "pggat-cli/pggat")):
        raise argparse.ArgumentTypeError(f"--pggat {text!r}: no {build}/pggat-cli/pggat (build it first)")
    return name, os.path.abspath(build), int(threads) if threads else None, int(fill) if fill else None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pggat", type=parse_pggat, action="append", default=[],
                   help="NAME=BUILD[:THREADS], once per pggat to run (default: pggat=build)")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--scale", type=int, default=10)
    p.add_argument("--no-pgbouncer", action="store_true")
    p.add_argument("pgbench", nargs="*", help="pgbench's arguments, after --")
    args = p.parse_args()
    if not args.pggat:
        args.pggat = [parse_pggat("pggat=" + os.path.join(run.ROOT, "build"))]
    names = [name for name, _, _, _ in args.pggat]
    if len(set(names)) != len(names) or "pgbouncer" in names:
        p.error("each --pggat needs a name of its own, other than pgbouncer")
    pgbench_args = args.pgbench or DEFAULT_PGBENCH

    # Bench reads its build, threads and seconds from here; start_pggat is
    # called once per build with them changed.
    settings = argparse.Namespace(scale=args.scale, seconds=args.seconds, threads=None, thread_fill=None,
                                  build=os.path.join(run.ROOT, "build"))
    bench = run.Bench(settings)
    bench.forwarder_port = bench.forwarder_pid = None  # not run here; Bench's lookups name it
    bench.bouncer_port = bench.bouncer_pid = None  # set by start_pgbouncer, unless --no-pgbouncer
    targets = []  # (name, port, pid)
    try:
        bench.start_postgres()
        if not args.no_pgbouncer:
            bench.start_pgbouncer()
            targets.append(("pgbouncer", bench.bouncer_port, bench.bouncer_pid))
        for name, build, threads, fill in args.pggat:
            settings.build, settings.threads, settings.thread_fill = build, threads, fill
            bench.start_pggat()
            targets.append((name, bench.pggat_port, bench.pggat_pid))
        results = {name: [] for name, _, _ in targets}
        round_tps = {name: {} for name, _, _ in targets}  # round -> tps, for ratios within a round
        for r in range(args.rounds):
            for name, port, pid in run.in_turn(targets, r):
                target = "pgbouncer" if name == "pgbouncer" else "pggat"
                if target == "pggat":  # Bench.pgbench reaches "pggat" through these
                    bench.pggat_port, bench.pggat_pid = port, pid
                user0, system0 = user_system_seconds(pid)
                res = bench.pgbench(target, pgbench_args)
                user1, system1 = user_system_seconds(pid)
                if not res["ok"] or res["transactions"] == 0:
                    print(f"round {r + 1} {name:10} failed: {res['error']}", flush=True)
                    continue
                n = res["transactions"]
                row = (res["tps"], (user1 - user0) / n * 1e6, (system1 - system0) / n * 1e6)
                results[name].append(row)
                round_tps[name][r] = row[0]
                print(f"round {r + 1} {name:10} tps {row[0]:10.1f}  user {row[1]:6.1f}  system {row[2]:6.1f} µs/tx",
                      flush=True)
    finally:
        bench.close()

    print(f"\nmedians of {args.rounds} rounds of {args.seconds} s, pgbench {' '.join(pgbench_args)} "
          f"(x PgBouncer: the median of the ratios within each round, their range in brackets):")
    bouncer = round_tps.get("pgbouncer", {})
    for name, rows in results.items():
        if not rows:
            print(f"  {name:10} no successful round")
            continue
        tps, user, system = (statistics.median(x[i] for x in rows) for i in range(3))
        ratios = [t / bouncer[r] for r, t in round_tps[name].items() if bouncer.get(r)]
        ratio = ""
        if ratios and name != "pgbouncer":
            ratio = (f"  {statistics.median(ratios):5.2f}x PgBouncer"
                     f" ({min(ratios):.2f}-{max(ratios):.2f})")
        print(f"  {name:10} tps {tps:10.1f}  CPU µs/tx user {user:6.1f}  system {system:6.1f}  "
              f"total {user + system:6.1f}{ratio}")
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
