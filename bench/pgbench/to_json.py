#!/usr/bin/env python3
"""Turns one pgbench run into coffer-bench's JSON shape (throughput, latency percentiles from the
per-transaction log, PostgreSQL CPU per transaction).

Usage: to_json.py PGBENCH_STDOUT LOG_PREFIX CPU_SECONDS CPU_WINDOW_SECONDS [CLIENT_CPU_SECONDS]

CLIENT_CPU_SECONDS is pgbench's own CPU over its whole run (-T), so the load generator's cost
is on record for the pgbench phases too, as coffer-bench's "client" entry is for the others.
"""
import glob
import json
import re
import sys

text = open(sys.argv[1]).read()
prefix, cpu_s, window = sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
client_cpu_s = float(sys.argv[5]) if len(sys.argv) > 5 else None


def grab(pattern, cast=float):
    m = re.search(pattern, text)
    return cast(m.group(1)) if m else None


lat = []
failed = 0
for path in glob.glob(prefix + ".*"):
    for line in open(path):
        f = line.split()
        if len(f) < 6:
            continue
        # client_id transaction_no time script_no time_epoch time_us
        if f[2] in ("failed", "skipped"):
            failed += 1
            continue
        lat.append(int(f[2]))
lat.sort()


def pct(q):
    return lat[min(len(lat) - 1, max(0, int(q * len(lat)) - 1))] if lat else 0


tps = grab(r"tps = ([0-9.]+) \(without initial connection time\)")
duration = grab(r"duration: (\d+) s", int)
ops = grab(r"number of transactions actually processed: (\d+)", int)
cpu = {"postgres": {"cpu_s": cpu_s, "cores": cpu_s / window,
                    "us_per_op": cpu_s * 1e6 / (tps * window) if tps else 0}}
if client_cpu_s is not None and duration:
    cpu["client"] = {"cpu_s": client_cpu_s, "cores": client_cpu_s / duration,
                     "us_per_op": client_cpu_s * 1e6 / (tps * duration) if tps else 0}
print(json.dumps({
    "target": "pgbench", "clients": grab(r"number of clients: (\d+)", int),
    "duration_s": duration, "ops": ops, "errors": failed + (grab(r"number of failed transactions: (\d+)", int) or 0),
    "throughput_ops_s": tps,
    "latency_us": {"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "p999": pct(0.999),
                   "max": lat[-1] if lat else 0},
    "cpu": cpu,
}, indent=2))
