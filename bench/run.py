#!/usr/bin/python3
"""pggat against PgBouncer and direct PostgreSQL, in one run on this machine.

    bench/run.py [--build build] [--rounds 3] [--seconds 10] [--scale 10]
                 [--out docs/benchmarks.md] [--smoke]

Starts a throwaway PostgreSQL (scripts/throwaway-postgres.sh; pgbench -i),
PgBouncer from Debian's package (transaction mode, pool size 20), pggat
(transaction mode, max_connections 20), both with trust authentication for
clients, and a bare byte forwarder (bench/forwarder: one server connection
per client, no parsing), then runs each workload against direct PostgreSQL,
PgBouncer, pggat and the forwarder, interleaved (the order turns by one each
round; before each run of the tpcb-like workload the tables it writes are
vacuumed, its history emptied and a checkpoint taken, with autovacuum off), `rounds` times, and writes
the medians to `out`: TPS, latency, the ratios pggat/PgBouncer and
pggat/direct (each the median of the ratios within a round, with their
range), (d)'s latency added over direct, the CPU seconds per transaction
(from /proc) of each process in between, and a chart beside it (`out` with .png for .md). The forwarder
does less than any pooler can: its CPU per transaction is the least one more
hop costs here, and "ceiling / PgBouncer" estimates what a pooler at that
cost would reach over PgBouncer. --smoke: one short round at scale 1,
a check that the command works (CI), not a measurement; it writes nothing
unless --out is given (the chart is drawn into the work directory then).
"""

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import struct
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PGBIN = "/usr/lib/postgresql/15/bin"


def program(name):
    direct = os.path.join(PGBIN, name)
    return direct if os.access(direct, os.X_OK) else name


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, process, what, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{what} exited with {process.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{what} did not listen on 127.0.0.1:{port} within {timeout}s")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1))


def open_idle(port, count):
    """count client connections logged in (trust) and left idle; the caller closes them."""
    body = struct.pack("!i", 196608) + b"user\0app\0database\0app\0\0"
    startup = struct.pack("!i", len(body) + 4) + body
    held = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(startup)
        buf = b""
        while True:  # until ReadyForQuery
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError(f"connection {len(held) + 1} was closed during startup")
            buf += chunk
            if b"Z\0\0\0\x05" in buf:
                break
            if buf[:1] == b"E":
                raise RuntimeError(f"connection {len(held) + 1} refused: {buf[:200]!r}")
        held.append(s)
    return held


# Each workload: pgbench arguments (without -T, host, port) and what to report.
# The forwarder is left out of (e): with a server connection per client it
# is direct PostgreSQL's connection cost plus a hop, which says nothing new.
WORKLOADS = [
    ("a", "select-only, -M simple, 50 clients", ["-S", "-M", "simple", "-c", "50", "-j", "2"]),
    ("b", "select-only, -M extended, 50 clients", ["-S", "-M", "extended", "-c", "50", "-j", "2"]),
    ("c", "select-only, -M prepared, 50 clients", ["-S", "-M", "prepared", "-c", "50", "-j", "2"]),
    ("d", "select-only, 1 client (latency)", ["-S", "-M", "simple", "-c", "1", "-j", "1"]),
    ("e", "select-only, -C (connect per transaction), 20 clients",
     ["-S", "-M", "simple", "-C", "-c", "20", "-j", "2"]),
    ("g", "tpcb-like, 50 clients", ["-M", "simple", "-c", "50", "-j", "2"]),
]
TARGETS = ["direct", "pgbouncer", "pggat", "forwarder"]
LABELS = {"direct": "direct", "pgbouncer": "PgBouncer", "pggat": "pggat", "forwarder": "bare forwarder"}
KEPT_MARKER = "<!-- Written by hand from here on: bench/run.py keeps it when it rewrites the rest. -->"


def writes_nothing(pgbench_args):
    """Whether pgbench runs the select-only script (-S, or -b select-only)."""
    return "-S" in pgbench_args or any(a in ("select-only", "-bselect-only") for a in pgbench_args)


def in_turn(items, rnd):
    """items in round rnd's order: rotated by one each round, so that each
    comes first, second, ... equally often and a drift within a round (a
    database that fills, a machine that warms) hits all of them alike."""
    k = rnd % len(items)
    return items[k:] + items[:k]


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="pggat-bench-", dir="/tmp")
        os.chmod(self.work, 0o1777)  # the clusters and PgBouncer run as user postgres
        self.processes = []
        self.primary_dir = os.path.join(self.work, "primary")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        self.env["PGPASSWORD"] = "app-pass"

    def close(self):
        for p in self.processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        subprocess.run([os.path.join(ROOT, "scripts/throwaway-postgres.sh"), "stop", self.primary_dir],
                       capture_output=True)
        shutil.rmtree(self.work, ignore_errors=True)

    def start_postgres(self):
        out = subprocess.run([os.path.join(ROOT, "scripts/throwaway-postgres.sh"), "start", self.primary_dir],
                             check=True, capture_output=True, text=True).stdout
        self.pg_port = int(re.search(r"^PORT=(\d+)", out, re.M).group(1))
        subprocess.run([program("pgbench"), "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "app", "-i",
                        "-q", "-s", str(self.args.scale), "app"], check=True, capture_output=True,
                       env=self.env)
        # No autovacuum: it would start in whichever run crossed its threshold
        # and slow that target alone; reset_written_tables vacuums instead.
        self.psql("ALTER SYSTEM SET autovacuum = off", "SELECT pg_reload_conf()")

    def start_pgbouncer(self):
        self.bouncer_port = free_port()
        d = os.path.join(self.work, "pgbouncer")
        os.mkdir(d)
        with open(os.path.join(d, "userlist.txt"), "w") as f:
            f.write('"app" "app-pass"\n')
        with open(os.path.join(d, "pgbouncer.ini"), "w") as f:
            f.write(f"""[databases]
app = host=127.0.0.1 port={self.pg_port} dbname=app user=app password=app-pass
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.bouncer_port}
unix_socket_dir =
auth_type = trust
auth_file = {d}/userlist.txt
pool_mode = transaction
default_pool_size = 20
max_client_conn = 12000
logfile = {d}/pgbouncer.log
pidfile = {d}/pgbouncer.pid
""")
        shutil.chown(d, "postgres")
        for name in os.listdir(d):
            shutil.chown(os.path.join(d, name), "postgres")
        # Started as root and switching to postgres itself (-u), it keeps this
        # process's file limit; runuser would apply the login limits (1,024).
        p = subprocess.Popen(["pgbouncer", "-u", "postgres", os.path.join(d, "pgbouncer.ini")],
                             stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "stderr"), "w"))
        self.processes.append(p)
        wait_for_port(self.bouncer_port, p, "PgBouncer")
        with open(os.path.join(d, "pgbouncer.pid")) as f:
            self.bouncer_pid = int(f.read())

    def start_pggat(self):
        self.pggat_port = free_port()
        config = {"servers": [{"listen": [{"address": f"127.0.0.1:{self.pggat_port}"}],
                               "routes": [{"handle": {
                                   "handler": "pool",
                                   "pool": {"pool": "basic", "mode": "transaction"},
                                   "recipe": {"address": f"127.0.0.1:{self.pg_port}", "username": "app",
                                              "password": "app-pass", "database": "app",
                                              "max_connections": 20}}}]}]}
        if self.args.threads is not None:
            config["threads"] = self.args.threads
        if getattr(self.args, "thread_fill", None) is not None:
            config["thread_fill"] = self.args.thread_fill
        path = os.path.join(self.work, "pggat.json")
        with open(path, "w") as f:
            json.dump(config, f)
        p = subprocess.Popen([os.path.join(self.args.build, "pggat-cli/pggat"), "run", path],
                             stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.work, "pggat.log"), "w"))
        self.processes.append(p)
        wait_for_port(self.pggat_port, p, "pggat")
        self.pggat_pid = p.pid

    def start_forwarder(self):
        self.forwarder_port = free_port()
        p = subprocess.Popen([os.path.join(self.args.build, "bench/forwarder/forwarder"), str(self.forwarder_port),
                              str(self.pg_port)], stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(self.work, "forwarder.log"), "w"))
        self.processes.append(p)
        wait_for_port(self.forwarder_port, p, "the forwarder")
        self.forwarder_pid = p.pid

    def port_of(self, target):
        return {"direct": self.pg_port, "pgbouncer": self.bouncer_port, "pggat": self.pggat_port,
                "forwarder": self.forwarder_port}[target]

    def pid_of(self, target):
        return {"direct": None, "pgbouncer": self.bouncer_pid, "pggat": self.pggat_pid,
                "forwarder": self.forwarder_pid}[target]

    def psql(self, *commands):
        """Runs the commands directly in PostgreSQL, as the superuser (for
        ALTER SYSTEM and CHECKPOINT), each on its own (VACUUM cannot run
        inside a transaction block)."""
        cmd = [program("psql"), "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres", "-d", "app",
               "-q", "-X", "-v", "ON_ERROR_STOP=1"]
        for c in commands:
            cmd += ["-c", c]
        subprocess.run(cmd, check=True, capture_output=True, env=dict(self.env, PGPASSWORD="postgres-pass"))

    def reset_written_tables(self):
        """Each run of a writing workload starts from the same state: the
        tables the tpcb-like script updates vacuumed (what pgbench does unless
        -n, and pgbench_accounts too: its dead rows and index entries grow by
        one per transaction, and PostgreSQL's own CPU per transaction grew
        with them, 302 -> 367 us over six runs), its history emptied, and a
        checkpoint taken so that none falls inside the run. The bench passes
        -n (a pooler would be vacuuming through itself), so it does this
        here, directly. Without it whoever ran later in a round was slower:
        1,796 -> 1,617 -> 1,467 -> 1,386 tps in four runs in a row on a
        fresh database."""
        self.psql("VACUUM pgbench_branches", "VACUUM pgbench_tellers", "VACUUM pgbench_accounts",
                  "TRUNCATE pgbench_history", "CHECKPOINT")

    def pgbench(self, target, args, seconds=None):
        if not writes_nothing(args):
            self.reset_written_tables()
        pid = self.pid_of(target)
        cpu_before = cpu_seconds(pid) if pid else None
        cmd = [program("pgbench"), "-h", "127.0.0.1", "-p", str(self.port_of(target)), "-U", "app", "-n",
               "-T", str(seconds or self.args.seconds)] + args + ["app"]
        r = subprocess.run(cmd, capture_output=True, text=True, env=self.env)
        out = r.stdout + r.stderr
        tps = re.search(r"^tps = ([0-9.]+)", out, re.M)
        latency = re.search(r"^latency average = ([0-9.]+) ms", out, re.M)
        done = re.search(r"number of transactions actually processed: (\d+)", out)
        failed = re.search(r"number of failed transactions: (\d+)", out)
        result = {"ok": r.returncode == 0 and tps is not None,
                  "tps": float(tps.group(1)) if tps else 0.0,
                  "latency_ms": float(latency.group(1)) if latency else None,
                  "transactions": int(done.group(1)) if done else 0,
                  "failed": int(failed.group(1)) if failed else None,
                  "error": "" if r.returncode == 0 else out.strip().splitlines()[-1] if out.strip() else "failed"}
        if pid and result["transactions"]:
            result["cpu_per_tx_us"] = (cpu_seconds(pid) - cpu_before) / result["transactions"] * 1e6
        return result


def measure_idle(bench, args):
    """(f): memory per idle client connection, and throughput beside them.

    The memory of each pooler is read before any pgbench run beside its idle
    clients (see warm_up); then the two run select-only in turns, each beside
    its own idle clients, `rounds` times: interleaved, as the other workloads.
    """
    idle_count = 200 if args.smoke else 2000
    held_count = 500 if args.smoke else 10000
    out = {}
    held = {}
    try:
        for target in ["pgbouncer", "pggat"]:
            try:
                out[target], held[target] = idle_memory(bench, target, idle_count, held_count)
            except (OSError, RuntimeError) as e:
                print(f"idle {target}: failed: {e}", flush=True)
                out[target] = {"bytes_per_idle": None, "held": 0, "bytes_per_held": None, "error": str(e)}
        runs = {target: [] for target in held}
        for _ in range(args.rounds):
            for target in held:
                runs[target].append(bench.pgbench(target, ["-S", "-M", "simple", "-c", "50", "-j", "2"]))
    finally:
        for sockets in held.values():
            for s in sockets:
                s.close()
    for target in ["pgbouncer", "pggat"]:
        out[target]["runs"] = runs.get(target, [])
        out[target]["tps"] = median([r["tps"] for r in out[target]["runs"] if r["ok"]])
        print(f"idle {target:9} tps beside {idle_count}: {out[target]['tps']}", flush=True)
    out["ratios"] = [g["tps"] / b["tps"] for b, g in zip(out["pgbouncer"]["runs"], out["pggat"]["runs"])
                     if b["ok"] and g["ok"] and b["tps"]]
    out["idle_count"] = idle_count
    return out


def warm_up(bench, target):
    """What a pooler allocates once, not per client, before the RSS baseline.

    The first login initializes a pooler's libraries (pggat's OpenSSL DRBG,
    which makes the cancel keys: some 300 KB); counted against 2,000 idle
    clients that would be 150 B each. Logins only: a pgbench run here would
    leave freed buffers that the idle clients then fill, hiding their cost.
    """
    for s in open_idle(bench.port_of(target), 50):
        s.close()


def idle_memory(bench, target, idle_count, held_count):
    """RSS per idle client at idle_count and at held_count; the idle_count
    clients are returned open, those beyond them closed."""
    pid = bench.pid_of(target)
    warm_up(bench, target)
    before = rss_kib(pid)
    held = open_idle(bench.port_of(target), idle_count)
    extra = []
    try:
        per_conn = (rss_kib(pid) - before) * 1024 / idle_count
        extra = open_idle(bench.port_of(target), held_count - idle_count)
        held_total = len(held) + len(extra)
        per_conn_all = (rss_kib(pid) - before) * 1024 / held_total
    except BaseException:
        for s in held:
            s.close()
        raise
    finally:
        for s in extra:
            s.close()
    print(f"idle {target:9} {per_conn:8.0f} B per idle connection, {held_total} held at "
          f"{per_conn_all:.0f} B each", flush=True)
    return {"bytes_per_idle": per_conn, "held": held_total, "bytes_per_held": per_conn_all}, held


def ceiling_over_pgbouncer(key, med, cpu):
    """The most a pooler costing only what the forwarder costs could reach, over PgBouncer.

    With every core busy (50 clients), tps = cores / (base + pooler), where
    base is what PostgreSQL and pgbench spend per transaction and pooler the
    pooler's CPU per transaction. PgBouncer's run gives base = cores / tps -
    its CPU; a pooler at the forwarder's CPU would then reach cores / (base +
    forwarder's CPU). Only for the saturated workloads, and only as the
    estimate it is.
    """
    if key in ("d", "e") or not (med["pgbouncer"] and cpu["pgbouncer"] and cpu["forwarder"]):
        return None
    per_tx = os.cpu_count() * 1e6 / med["pgbouncer"]  # µs of the machine per PgBouncer transaction
    base = per_tx - cpu["pgbouncer"]
    return per_tx / (base + cpu["forwarder"]) if base > 0 else None


def chart(args, workloads, results, path):
    """A bar chart of the median tps per workload and target (matplotlib)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    keys = [w[0] for w in workloads]
    fig, ax = plt.subplots(figsize=(10, 4.8))
    width = 0.8 / len(TARGETS)
    for i, target in enumerate(TARGETS):
        values = [median([r["tps"] for r in results[(k, target)] if r["ok"]]) or 0 for k in keys]
        ax.bar([x + (i - (len(TARGETS) - 1) / 2) * width for x in range(len(keys))], values, width,
               label=LABELS[target])
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels([f"({k})" for k in keys])
    ax.set_ylabel("transactions per second (median)")
    ax.set_yscale("log")
    ax.set_title(f"pgbench through each target, {os.cpu_count()} cores, {args.rounds} x {args.seconds} s")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"wrote {path}")


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=0):
    if v is None:
        return "–"
    return f"{v:,.{digits}f}"


def per_round(results, key, a, b, f):
    """f(round of a, round of b) for each round both completed, where f gives one.

    Rounds are interleaved, so the two runs of a round met the same state of
    the machine: a ratio taken inside a round drifts less than one of medians.
    """
    pairs = zip(results[(key, a)], results[(key, b)])
    values = [f(ra, rb) for ra, rb in pairs if ra["ok"] and rb["ok"]]
    return [v for v in values if v is not None]


def tps_ratio(r, base):
    return r["tps"] / base["tps"] if base["tps"] else None


def latency_added(r, base):
    if r["latency_ms"] is None or base["latency_ms"] is None:
        return None
    return r["latency_ms"] - base["latency_ms"]


def fmt_spread(values, digits=2):
    """The median of values, and their range when there are several: 1.06 (0.97–1.10)."""
    if not values:
        return "–"
    text = fmt(median(values), digits)
    if len(values) > 1:
        text += f" ({fmt(min(values), digits)}–{fmt(max(values), digits)})"
    return text


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--scale", type=int, default=10)
    ap.add_argument("--out", default=None)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--threads", type=int, default=None,
                    help="pggat's threads setting (default: its own, one per core)")
    ap.add_argument("--only", default=None,
                    help="comma-separated workload keys to run (a,b,...; f is the idle-connection run); "
                         "nothing is written to docs then")
    args = ap.parse_args()
    if args.smoke:
        args.rounds, args.seconds, args.scale = 1, 2, 1
    elif args.out is None and args.only is None:
        args.out = os.path.join(ROOT, "docs/benchmarks.md")
    only = set(args.only.split(",")) if args.only else None
    workloads = [w for w in WORKLOADS if only is None or w[0] in only]
    if args.out or args.smoke:
        # The chart is drawn at the end: a Python without matplotlib (one not
        # Debian's, say) is told so now, not after twenty minutes of runs.
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            sys.exit(f"bench/run.py: {sys.executable} has no matplotlib (Debian: python3-matplotlib); "
                     "run it with /usr/bin/python3")

    # (f) holds 10,000 connections: this process and the poolers (its children) need the files.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    bench = Bench(args)
    try:
        bench.start_postgres()
        bench.start_pgbouncer()
        bench.start_pggat()
        bench.start_forwarder()
        results = {(w[0], t): [] for w in workloads for t in TARGETS}
        for rnd in range(args.rounds):
            for key, title, wargs in workloads:
                for target in in_turn(TARGETS, rnd):
                    if target == "forwarder" and key == "e":
                        continue
                    r = bench.pgbench(target, wargs)
                    results[(key, target)].append(r)
                    print(f"round {rnd + 1} {key} {target:9} tps {r['tps']:10.1f}"
                          + ("" if r["ok"] else f"  FAILED: {r['error']}"), flush=True)
        idle = measure_idle(bench, args) if only is None or "f" in only else None
        report(args, workloads, results, idle)
        if args.out:
            chart(args, workloads, results, os.path.splitext(args.out)[0] + ".png")
        elif args.smoke:  # drawn where it is thrown away: the smoke checks that it can be
            chart(args, workloads, results, os.path.join(bench.work, "benchmarks.png"))
        problems = [f"{k} {t}: {r['error']}" for (k, t), rs in results.items() for r in rs
                    if not r["ok"] and not (k == "c" and t == "pgbouncer")]
        if problems:
            sys.exit("runs that failed:\n  " + "\n  ".join(problems))
    finally:
        bench.close()


def report(args, workloads, results, idle):
    lines = []
    lines.append("| workload | direct tps | PgBouncer tps | pggat tps | forwarder tps | pggat / PgBouncer "
                 "| pggat / direct | ceiling / PgBouncer | latency ms direct / PgBouncer / pggat "
                 "| CPU µs per tx PgBouncer / pggat / forwarder |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    added_latency = None  # (d)'s, when it ran
    for key, title, _ in workloads:
        med = {t: median([r["tps"] for r in results[(key, t)] if r["ok"]]) for t in TARGETS}
        lat = {t: median([r["latency_ms"] for r in results[(key, t)] if r["ok"]]) for t in TARGETS}
        cpu = {t: median([r.get("cpu_per_tx_us") for r in results[(key, t)] if r["ok"]]) for t in TARGETS}
        ratio_b = per_round(results, key, "pggat", "pgbouncer", tps_ratio)
        ratio_d = per_round(results, key, "pggat", "direct", tps_ratio)
        if key == "d":
            added_latency = {t: median(per_round(results, key, t, "direct", latency_added))
                             for t in ("pgbouncer", "pggat", "forwarder")}
            # Paired like the tps ratios: the two met the same machine.
            added_latency["pggat - pgbouncer"] = per_round(results, key, "pggat", "pgbouncer", latency_added)
        ceiling = ceiling_over_pgbouncer(key, med, cpu)
        bouncer = fmt(med["pgbouncer"])
        if med["pgbouncer"] is None:
            bouncer = "fails (" + results[(key, "pgbouncer")][0]["error"][:60] + ")"
        lines.append(f"| ({key}) {title} | {fmt(med['direct'])} | {bouncer} | {fmt(med['pggat'])} "
                     f"| {fmt(med['forwarder'])} | {fmt_spread(ratio_b)} | {fmt_spread(ratio_d)} | {fmt(ceiling, 2)} "
                     f"| {fmt(lat['direct'], 3)} / {fmt(lat['pgbouncer'], 3)} / {fmt(lat['pggat'], 3)} "
                     f"| {fmt(cpu['pgbouncer'], 1)} / {fmt(cpu['pggat'], 1)} / {fmt(cpu['forwarder'], 1)} |")
    if idle:
        b, g = idle["pgbouncer"], idle["pggat"]
        lines.append(f"| (f) select-only, 50 clients beside {idle['idle_count']:,} idle ones | – "
                     f"| {fmt(b['tps'])} | {fmt(g['tps'])} | – | {fmt_spread(idle['ratios'])} | – | – | RSS per idle connection: "
                     f"{fmt(b['bytes_per_idle'])} B / {fmt(g['bytes_per_idle'])} B | – |")
        lines.append(f"| (f) connections held | – | {b['held']:,} at {fmt(b['bytes_per_held'])} B each "
                     f"| {g['held']:,} at {fmt(g['bytes_per_held'])} B each | | | | | | |")
    if added_latency:
        a = added_latency
        lines.append("")
        lines.append(f"(d) latency added over direct PostgreSQL, the median of each round's difference: "
                     f"PgBouncer {fmt(a['pgbouncer'], 3)} ms, pggat {fmt(a['pggat'], 3)} ms, "
                     f"the forwarder {fmt(a['forwarder'], 3)} ms. pggat's latency minus PgBouncer's, "
                     f"within each round: {fmt_spread(a['pggat - pgbouncer'], 3)} ms.")
    table = "\n".join(lines)
    print(table)
    if not args.out:
        return
    versions = subprocess.run(["pgbouncer", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    pg = subprocess.run([program("postgres"), "--version"], capture_output=True, text=True).stdout.strip()
    threads_arg = f" --threads {args.threads}" if args.threads is not None else ""
    threads_text = (f"`threads` {args.threads}" if args.threads is not None
                    else f"`threads` left at its default (one per core: {os.cpu_count()})")
    doc = f"""# Benchmarks

Produced by `bench/run.py --rounds {args.rounds} --seconds {args.seconds} --scale {args.scale}{threads_arg}`
on {datetime.date.today().isoformat()}: {os.cpu_count()} cores, {platform.platform()}, {pg},
{versions}, pggat built with the default meson options (-O2), {threads_text}.

Each workload ran against direct PostgreSQL, PgBouncer, pggat and a bare
byte forwarder, interleaved, {args.rounds} times for {args.seconds} s, in an order that
turns by one each round (each target comes first, second, ... as often as
the others); before each run of the tpcb-like workload (g) the tables it
writes are vacuumed (pgbench_accounts too) and its history emptied, as
pgbench does unless -n, and a checkpoint is taken; autovacuum is off, so
every target starts from the same database and nothing starts in one
target's run alone. tps, latency and CPU
are medians of the rounds; a ratio is the median of the ratios within each
round (the two runs of a round met the machine in the same state), with
their range in brackets.
PostgreSQL, the pooler and pgbench share the machine's cores, so the poolers
compete with PostgreSQL for CPU: ratios measured in the same run are what to
compare. Both poolers run in transaction mode with 20 server connections and
trust authentication for clients. The forwarder (bench/forwarder: one epoll
loop, a server connection per client, bytes copied as they come, nothing
parsed) does less than any pooler can; its CPU per transaction is the least
one more hop costs here. It keeps a server connection per client (50, not
20), so its tps is not a pooler's. "ceiling / PgBouncer" is what a pooler
that cost only the forwarder's CPU would reach over PgBouncer when every core
is busy: tps = cores / (base + pooler CPU), with base (PostgreSQL's and
pgbench's CPU per transaction) taken from PgBouncer's run. CPU µs per
transaction is the process's user+system CPU time over the run (from /proc)
divided by the transactions pgbench completed. The chart:
[benchmarks.png](benchmarks.png).

{table}

(f) opens idle client connections (startup and login, then nothing) to each
pooler and reads its RSS before and after, first 2,000 and then 10,000 in
all; then, with the first 2,000 of each still open, pgbench runs against the
two in turns, as many rounds as the other workloads. The baseline is read
after 50 logins, so what a pooler allocates once at its first login is not
counted per client. Direct PostgreSQL is left out (its max_connections is
100).
"""
    # The hand-written part (the profile and what came of it) survives a rerun.
    try:
        with open(args.out) as f:
            previous = f.read()
        if KEPT_MARKER in previous:
            doc += "\n" + KEPT_MARKER + previous.split(KEPT_MARKER, 1)[1]
    except FileNotFoundError:
        pass
    with open(args.out, "w") as f:
        f.write(doc)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
