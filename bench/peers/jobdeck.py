"""Jobdeck's side of the peer comparison, run in Jobdeck's venv:
``python -m bench.peers.jobdeck SYSTEM N`` prints ``{"per_s", "cpu_s", "jobs"}`` as JSON.

The drain is bench.common's (a fresh consumer, 2 thread workers, on an emptied database and
queue), the one the tracked-vs-bare figures use; the CPU is its consumer's processes'. As the peers'
workers are, the consumer is shown a warm-up batch first, so that the clock never counts its
start (which on a loaded machine can outlast the drain code's few seconds of grace)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from bench.common import consumers_running, drain
from bench.peers import SYSTEMS
from bench.peers.cpu import tree_cpu_seconds
from bench.peers.run import WARM_UP

# SYSTEMS' variant -> (backend, tracked)
ARMS = {
    "sqlite": ("sqlite", True),
    "redis_pg": ("redis_pg", True),
    "huey_redis": ("redis_pg", False),
}


def jobdeck_drain(name: str, n: int) -> dict:
    """Jobs per second one fresh Jobdeck consumer drains, and the CPU its processes spent."""
    backend, tracked = ARMS[SYSTEMS[name].variant]
    with (
        tempfile.TemporaryDirectory(prefix=f"jobdeck-peers-{name}-") as tmp,
        consumers_running(Path(tmp), backend),
    ):
        drain(WARM_UP, tracked)
        cpu_before = tree_cpu_seconds(os.getpid(), include_root=False)
        per_s = drain(n, tracked)
        cpu = tree_cpu_seconds(os.getpid(), include_root=False) - cpu_before
    return {"per_s": per_s, "cpu_s": cpu, "jobs": n}


if __name__ == "__main__":
    print(json.dumps(jobdeck_drain(sys.argv[1], int(sys.argv[2]))))
