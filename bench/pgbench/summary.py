#!/usr/bin/env python3
"""Prints the benchmark table and the issue-7 ratios from the JSON files scripts/bench wrote.

Usage: summary.py RESULTS_DIR   (also writes RESULTS_DIR/summary.json)
"""
import json
import os
import sys

d = sys.argv[1]
runs = {}
for name in sorted(os.listdir(d)):
    if name.endswith(".json") and name != "summary.json":
        runs[name[:-5]] = json.load(open(os.path.join(d, name)))


def tput(name):
    return runs[name]["throughput_ops_s"] if name in runs else float("nan")


print(f"{'phase':22} {'ops/s':>9} {'p50 us':>8} {'p99 us':>8} {'p999 us':>8} {'errors':>6}  cpu us/op")
for name, r in runs.items():
    l = r["latency_us"]
    cpu = " ".join(f"{k}={v['us_per_op']:.0f}" for k, v in r.get("cpu", {}).items())
    print(f"{name:22} {r['throughput_ops_s']:9.0f} {l['p50']:8.0f} {l['p99']:8.0f} {l['p999']:8.0f} "
          f"{r['errors']:6d}  {cpu}")

ratios = [
    ("Put / pgbench same SQL", "vault_put", "pgbench_put", 0.85),
    ("Put / etcd put", "vault_put", "etcd_put", 1.3),
    ("Get / etcd serializable range", "vault_get", "etcd_get", 1.5),
    ("Get / Ping", "vault_get", "vault_ping", 0.6),
    ("Ping (authenticated) / health (unauthenticated)", "vault_ping", "vault_health", 0.95),
    ("Get / pgbench same SQL (info)", "vault_get", "pgbench_get", None),
]
out = []
print()
for label, a, b, target in ratios:
    v = tput(a) / tput(b)
    verdict = "" if target is None else ("MET" if v >= target else "MISSED")
    tgt = "" if target is None else f">= {target}"
    print(f"{label:50} {v:6.2f}  {tgt:8} {verdict}")
    out.append({"ratio": label, "value": v, "target": target, "met": None if target is None else v >= target})
json.dump({"ratios": out, "throughput": {k: tput(k) for k in runs}},
          open(os.path.join(d, "summary.json"), "w"), indent=2)
