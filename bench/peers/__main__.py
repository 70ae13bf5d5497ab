"""`make bench-peers`: ``python -m bench.peers [--rounds R] [--only A,B] [--jobs NAME=N]
[--no-write]``.

Drains no-op jobs through Jobdeck (this venv) and each peer (``.venv-peers``, or
``PEERS_PYTHON``), one fresh process and worker per drain, the systems taking turns for
``--rounds`` rounds so that a change in the machine's load falls on all of them; prints one
table and, at ``BENCH_SCALE=1`` unless ``--no-write``, writes it to bench/results.json as
``peers``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from bench.common import RESULTS, SCALE, scaled
from bench.peers import SYSTEMS
from bench.peers.table import render, summarise

ROOT = Path(__file__).resolve().parents[2]
PEERS_PYTHON = Path(os.environ.get("PEERS_PYTHON", ROOT / ".venv-peers" / "bin" / "python"))


def run_drain(name: str, n: int) -> dict:
    """One drain of ``n`` jobs by ``name``, in a process of its own, in that system's venv."""
    if SYSTEMS[name].module == "jobdeck":
        command = [sys.executable, "-m", "bench.peers.jobdeck", name, str(n)]
    else:
        command = [str(PEERS_PYTHON), "-m", "bench.peers.run", name, str(n)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{name}: failed\n{done.stderr[-3000:]}{done.stdout[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def job_counts(overrides: list[str]) -> dict[str, int]:
    """Jobs a drain per system, the defaults changed by ``NAME=N`` items, at the run's scale."""
    counts = {name: system.jobs for name, system in SYSTEMS.items()}
    for item in overrides:
        name, _, n = item.partition("=")
        if name not in counts or not n.isdigit():
            raise SystemExit(f"--jobs takes NAME=N with NAME one of {', '.join(counts)}")
        counts[name] = int(n)
    return {name: scaled(n) for name, n in counts.items()}


def write(summary: dict[str, dict], rounds: int) -> None:
    """Put the table in bench/results.json as ``peers``, the other figures left as they are."""
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"figures": {}}
    results["figures"]["peers"] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "rounds": rounds,
        "systems": summary,
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


def main() -> None:
    """Run the drains in turns, print the table, write it at scale 1 unless told not to."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_PEERS_ROUNDS", 3)))
    parser.add_argument("--only", help="comma-separated systems (default: all)")
    parser.add_argument("--jobs", action="append", default=[], help="NAME=N jobs a drain")
    parser.add_argument("--no-write", action="store_true", help="leave results.json alone")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(SYSTEMS)
    if unknown := set(names) - set(SYSTEMS):
        raise SystemExit(f"unknown systems {sorted(unknown)}; known: {', '.join(SYSTEMS)}")
    if not PEERS_PYTHON.exists() and any(SYSTEMS[n].module != "jobdeck" for n in names):
        raise SystemExit(f"{PEERS_PYTHON} is missing: `make bench-peers` makes it")
    counts = job_counts(args.jobs)
    drains: dict[str, list[dict]] = {name: [] for name in names}
    for round_ in range(args.rounds):
        # Every other round in the opposite order, so no system always follows the same one.
        for name in names if round_ % 2 == 0 else names[::-1]:
            outcome = run_drain(name, counts[name])
            drains[name].append(outcome)
            print(
                f"round {round_ + 1}/{args.rounds} {name}: {outcome['per_s']:,.0f} jobs/s, "
                f"{outcome['cpu_s']:.2f} CPU s for {outcome['jobs']:,} jobs",
                flush=True,
            )
    summary = summarise(drains)
    print(render(summary), flush=True)
    if SCALE != 1 or args.no_write:
        why = "--no-write" if args.no_write else f"BENCH_SCALE={SCALE:g}"
        print(f"{RESULTS.name} is left as it was ({why})", flush=True)
        return
    write(summary, args.rounds)


if __name__ == "__main__":
    main()
