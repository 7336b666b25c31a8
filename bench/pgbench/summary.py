#!/usr/bin/env python3
"""Prints the benchmark table and the issue-7 ratios from the JSON files scripts/bench wrote.

Next to each vault ratio it prints its ceiling on this machine: the ratio a vault would reach
whose own CPU per call were no more than an empty Ping's (transport, token check, metrics), with
PostgreSQL spending no more than pgbench spends on the identical prepared statements, and every
core busy. On a CPU-bound host throughput is cores / CPU per call, so

    ceiling = (cores * 1e6 / (ping_vault + ping_client + pgbench_postgres)) / other_side_ops_s

A target above its ceiling cannot be met by making the vault's own code faster: only by taking
PostgreSQL work off the call. All inputs come from the same run.

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


def cpu(name, who):
    try:
        return runs[name]["cpu"][who]["us_per_op"]
    except KeyError:
        return float("nan")


cores = os.cpu_count() or 1
# The cheapest vault call the transport allows: what an authenticated Ping costs the vault and
# its client, plus PostgreSQL's cost of the same statements run by pgbench.
ping_us = cpu("vault_ping", "vault") + cpu("vault_ping", "client")
floor_us = {"vault_get": ping_us + cpu("pgbench_get", "postgres"),
            "vault_put": ping_us + cpu("pgbench_write", "postgres")}


def ceiling(a, b):
    if a not in floor_us or not floor_us[a] > 0:
        return None
    return cores * 1e6 / floor_us[a] / tput(b)


print(f"{'phase':22} {'ops/s':>9} {'p50 us':>8} {'p99 us':>8} {'p999 us':>8} {'errors':>6}  cpu us/op")
for name, r in runs.items():
    l = r["latency_us"]
    cpu = " ".join(f"{k}={v['us_per_op']:.0f}" for k, v in r.get("cpu", {}).items())
    print(f"{name:22} {r['throughput_ops_s']:9.0f} {l['p50']:8.0f} {l['p99']:8.0f} {l['p999']:8.0f} "
          f"{r['errors']:6d}  {cpu}")

ratios = [
    # A Put sends the write alone when the replica holds the head (bench/pgbench/gen.py).
    ("Put / pgbench same SQL (the write)", "vault_put", "pgbench_write", 0.85),
    ("Put / etcd put", "vault_put", "etcd_put", 1.0),  # issue 19 (issue 7 had 1.3)
    ("Get / etcd serializable range", "vault_get", "etcd_get", 1.5),
    ("Get / Ping", "vault_get", "vault_ping", 0.6),
    ("Ping (authenticated) / health (unauthenticated)", "vault_ping", "vault_health", 0.95),
    ("Get / pgbench same SQL (info)", "vault_get", "pgbench_get", None),
    ("Put / pgbench read + write (info: a Put without a copy)", "vault_put", "pgbench_put", None),
]
out = []
print()
print(f"{'ratio':50} {'value':>6}  {'target':8} {'verdict':7}  ceiling (vault at Ping's cost, {cores} cores)")
for label, a, b, target in ratios:
    v = tput(a) / tput(b)
    verdict = "" if target is None else ("MET" if v >= target else "MISSED")
    tgt = "" if target is None else f">= {target}"
    c = ceiling(a, b) if target is not None else None
    note = ""
    if c is not None and c == c:  # not NaN
        note = f"{c:6.2f}" + ("  (target above the ceiling)" if c < target else "")
    print(f"{label:50} {v:6.2f}  {tgt:8} {verdict:7}  {note}")
    out.append({"ratio": label, "value": v, "target": target,
                "met": None if target is None else v >= target, "ceiling": c})
for name in ("pgbench_write", "pgbench_put"):
    r = runs.get(name, {})
    if r.get("applied_writes") is not None and r.get("ops"):
        # Both counted over the same pgbench run: the share of its writes that changed a record.
        print(f"{name}: {r['applied_writes']} writes applied during the run, {r['ops']} transactions "
              f"counted ({100.0 * r['applied_writes'] / r['ops']:.1f} %)")
print(f"\nfloor CPU per call (us): Ping {ping_us:.0f}; Get {floor_us['vault_get']:.0f}, "
      f"Put {floor_us['vault_put']:.0f} (Ping + pgbench's PostgreSQL CPU for the same SQL)")
json.dump({"ratios": out, "throughput": {k: tput(k) for k in runs}, "cores": cores,
           "floor_cpu_us": {"ping": ping_us, **floor_us}},
          open(os.path.join(d, "summary.json"), "w"), indent=2)
