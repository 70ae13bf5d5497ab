"""CPU seconds of a process tree, read from /proc (Linux): what the workers themselves spent,
which a loaded machine inflates far less than it does wall-clock rates."""

from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stats() -> dict[int, tuple[int, float]]:
    """Every process's (parent, CPU seconds with its reaped children's)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = text[text.rindex(")") + 2 :].split()
        # state, ppid, ... utime stime cutime cstime are fields 14-17 of stat(5)
        ticks = sum(int(v) for v in fields[11:15])
        found[int(entry.name)] = (int(fields[1]), ticks / TICK)
    return found


def tree_cpu_seconds(root: int, include_root: bool = True) -> float:
    """User + system CPU seconds of ``root``'s descendants (and of ``root`` itself unless
    ``include_root`` is false), children they have reaped included."""
    stats = _stats()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in stats.items():
        children.setdefault(parent, []).append(pid)
    total = stats[root][1] if include_root and root in stats else 0.0
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        total += stats[pid][1]
        todo.extend(children.get(pid, []))
    return total
