"""CPU time of a process tree, read from ``/proc`` by the grader (never reported by the jail).

A jail's processes all descend from the ``bwrap`` process the grader started. Their CPU time is
``utime + stime`` of every live process plus ``cutime + cstime`` (what the processes they reaped
used): each CPU second is counted exactly once, whether its process still runs, is a zombie, or
was reaped by an ancestor in the tree. The *run delay* (``/proc/PID/schedstat``, time spent
runnable but waiting for a CPU) of the live processes tells an overloaded machine from code that
sleeps: a process that waits for a CPU is runnable, one that sleeps is not.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Usage:
    cpu: float  # seconds of CPU used by the tree so far
    run_delay: float  # seconds the live processes spent waiting for a CPU
    processes: int


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds including reaped children) of ``pid``, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2:].split()  # the command name may hold spaces and parentheses
    ppid = int(fields[1])
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime, stime, cutime, cstime
    return ppid, ticks / TICK


def _run_delay(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/schedstat", "rb") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def tree_usage(root: int) -> Usage:
    """CPU time and run delay of ``root`` and all its descendants."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        stat = _stat(int(name))
        if stat is not None:
            parents[int(name)], cpu[int(name)] = stat
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    total, delay, count, stack = 0.0, 0.0, 0, [root]
    while stack:
        pid = stack.pop()
        if pid not in cpu:
            continue
        total += cpu[pid]
        delay += _run_delay(pid)
        count += 1
        stack.extend(children.get(pid, ()))
    return Usage(total, delay, count)
