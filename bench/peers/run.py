"""One peer's drain, run in the peers' venv: ``python -m bench.peers.run SYSTEM N`` prints
``{"per_s", "cpu_s", "jobs"}`` as JSON.

A peer module offers ``reset()`` (empty its stores; returns a function counting the jobs its
tracking says succeeded), ``enqueue(n)`` and ``worker_command(variant)``. The worker is started
on the emptied stores and shown a warm-up batch, so it is up and idle; it is then paused
(SIGSTOP to its process group) while the drain's jobs are queued, because the peers' producers
send one message at a time where Jobdeck's dispatch queues a batch in one transaction or
pipeline, and resumed (SIGCONT) when the clock starts.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.peers import SYSTEMS
from bench.peers.cpu import tree_cpu_seconds

ROOT = Path(__file__).resolve().parents[2]
WARM_UP = 20
POLL_SECONDS = 0.005  # as bench.common.drain watches Jobdeck's drains


def wait_for(done, target: int, timeout: float, log: Path) -> None:
    """Return once ``done()`` reaches ``target``; exit with the worker's log after ``timeout``."""
    deadline = time.monotonic() + timeout
    while done() < target:
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:]
            raise SystemExit(f"{done()} of {target} jobs done after {timeout:.0f} s\n{tail}")
        time.sleep(POLL_SECONDS)


def stop(worker: subprocess.Popen) -> None:
    """Stop the worker's whole process group: politely, then after 30 s by force."""
    os.killpg(worker.pid, signal.SIGCONT)
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()


def drain(name: str, n: int) -> dict:
    """Jobs per second one fresh worker of ``name`` drains, and the CPU its processes spent."""
    system = SYSTEMS[name]
    peer = importlib.import_module(f"bench.peers.{system.module}")
    done = peer.reset()
    with tempfile.TemporaryDirectory(prefix=f"jobdeck-peers-{name}-") as tmp:
        log = Path(tmp) / "worker.log"
        with log.open("ab") as out:
            worker = subprocess.Popen(
                peer.worker_command(system.variant),
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, to pause and stop it whole
            )
        try:
            peer.enqueue(WARM_UP)
            wait_for(done, WARM_UP, 120, log)
            os.killpg(worker.pid, signal.SIGSTOP)
            peer.enqueue(n)
            cpu_before = tree_cpu_seconds(worker.pid)
            os.killpg(worker.pid, signal.SIGCONT)
            start = time.perf_counter()
            wait_for(done, WARM_UP + n, max(300, n / 5), log)
            seconds = time.perf_counter() - start
            cpu = tree_cpu_seconds(worker.pid) - cpu_before
        finally:
            stop(worker)
    return {"per_s": n / seconds, "cpu_s": cpu, "jobs": n}


if __name__ == "__main__":
    print(json.dumps(drain(sys.argv[1], int(sys.argv[2]))))
