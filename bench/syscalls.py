#!/usr/bin/python3
"""System calls per transaction of pggat and PgBouncer, counted by the kernel.

    bench/syscalls.py [--build build] [--seconds 5] [--scale 10] [-- PGBENCH ARGUMENTS]

Starts a throwaway PostgreSQL, PgBouncer and pggat as bench/run.py does,
runs pgbench (default: -S -M simple -c 1 -j 1) against each while
`perf stat` counts the pooler's recvfrom, sendto, sendmsg, epoll_wait,
epoll_ctl and futex calls (the kernel's syscall tracepoints), and the
recvfrom calls that found nothing (EAGAIN), and prints each per
transaction. Unlike `strace -c`, which stops the process at every call and
so lets replies arrive before the reads that would have found nothing, this
leaves the timing alone. Needs perf (Debian's linux-perf) and root.
"""

import argparse
import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("bench_run", os.path.join(HERE, "run.py"))
run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run)

CALLS = ["recvfrom", "sendto", "sendmsg", "epoll_wait", "epoll_ctl", "futex"]
EAGAIN = 11


def count(bench, target, pid, pgbench_args):
    """pgbench against `target` while perf counts `pid`'s calls: {name: per transaction}, tps."""
    events = []
    for call in CALLS:
        events += ["-e", f"syscalls:sys_enter_{call}"]
    events += ["-e", "syscalls:sys_exit_recvfrom", "--filter", f"ret == -{EAGAIN}"]
    with tempfile.NamedTemporaryFile("r", suffix=".csv") as out:
        perf = subprocess.Popen(["perf", "stat", "-x,", "-o", out.name] + events + ["-p", str(pid)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # perf attached before the run
        res = bench.pgbench(target, pgbench_args)
        perf.send_signal(signal.SIGINT)
        perf.wait()
        lines = out.read().splitlines()
    n = res["transactions"]
    if not res["ok"] or n == 0:
        raise SystemExit(f"pgbench against {target} failed: {res['error']}")
    counts = {}
    for line in lines:
        fields = line.split(",")
        if len(fields) > 2 and fields[0].strip().isdigit():
            event = fields[2]
            name = "recvfrom EAGAIN" if event == "syscalls:sys_exit_recvfrom" else event.removeprefix(
                "syscalls:sys_enter_")
            counts[name] = int(fields[0]) / n
    return counts, res["tps"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(run.ROOT, "build"))
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--scale", type=int, default=10)
    p.add_argument("pgbench", nargs="*", help="pgbench's arguments, after --")
    args = p.parse_args()
    pgbench_args = args.pgbench or ["-S", "-M", "simple", "-c", "1", "-j", "1"]
    settings = argparse.Namespace(scale=args.scale, seconds=args.seconds, threads=None, thread_fill=None,
                                  build=os.path.abspath(args.build))
    bench = run.Bench(settings)
    bench.forwarder_port = bench.forwarder_pid = None  # not run here; Bench's lookups name it
    rows = {}
    try:
        bench.start_postgres()
        bench.start_pgbouncer()
        bench.start_pggat()
        for target, pid in (("pgbouncer", bench.bouncer_pid), ("pggat", bench.pggat_pid)):
            rows[target] = count(bench, target, pid, pgbench_args)
    finally:
        bench.close()
    print(f"system calls per transaction, pgbench {' '.join(pgbench_args)}, {args.seconds} s each:")
    names = CALLS + ["recvfrom EAGAIN"]
    print(f"  {'':10}" + "".join(f"{n:>17}" for n in names) + f"{'total':>9}{'tps':>10}")
    for target, (counts, tps) in rows.items():
        total = sum(v for k, v in counts.items() if k in CALLS)
        print(f"  {target:10}" + "".join(f"{counts.get(n, 0.0):17.2f}" for n in names) + f"{total:9.2f}{tps:10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
