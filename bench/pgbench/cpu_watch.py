#!/usr/bin/env python3
"""Prints the CPU seconds used by PID and its direct children during the next SECONDS seconds.

PostgreSQL backends of a pgbench run are born and gone within the run, so their CPU cannot be
read before and after: this polls every 100 ms, counting a child from its first sighting (from 0
when it appears after the start) to its last one.

Usage: cpu_watch.py PID SECONDS
"""
import os
import sys
import time

root, seconds = int(sys.argv[1]), float(sys.argv[2])
hz = os.sysconf("SC_CLK_TCK")


def sample():
    ticks = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            s = open(f"/proc/{d}/stat").read()
        except OSError:
            continue
        f = s[s.rindex(")") + 2:].split()
        if int(d) == root or int(f[1]) == root:
            ticks[int(d)] = int(f[11]) + int(f[12])
    return ticks


base = sample()
last = dict(base)
end = time.monotonic() + seconds
while time.monotonic() < end:
    time.sleep(0.1)
    for pid, t in sample().items():
        last[pid] = max(last.get(pid, 0), t)
print(sum(t - base.get(pid, 0) for pid, t in last.items()) / hz)
