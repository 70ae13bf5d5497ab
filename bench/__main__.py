"""Run the benchmark figures: `python -m bench [FIGURE ...]`.

Each figure runs in a process of its own (so that its peak memory is its own) and its result
goes to bench/results.json. ``--against DIR`` runs each figure in another checkout too (the
code before a change, e.g. a worktree at main), the two back to back under the same load, and
prints both lines and the ratio of their headline numbers; results.json is then left alone.
``BENCH_SCALE=0.1`` runs every size at a tenth while trying a change.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import bulk, drains, pages, pages_10m, prune  # noqa: F401 - each module registers its figures
from bench.common import FIGURES, RESULTS, SCALE

HERE = Path(__file__).resolve().parents[1]
# The number a figure is judged by: (key, True when more is better).
HEADLINES = {
    "import_100k_rows": ("rows_per_s", True),
    "import_missing_100k": ("seconds", False),
    "scheduler_tick_10k": ("seconds", False),
    "export_1m_job_logs_csv": ("rows_per_s", True),
    "prune_10m_job_logs": ("seconds", False),
    "tracked_vs_bare_sqlite": ("ratio", True),
    "tracked_vs_bare_redis_pg": ("ratio", True),
}


def run_figure(name: str, checkout: Path) -> dict:
    """One figure in a process of its own, run from ``checkout``; its outcome."""
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--single", name],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        print(f"{name} ({checkout}): failed\n{done.stderr[-3000:]}", flush=True)
        raise SystemExit(1)
    return json.loads(done.stdout.strip().splitlines()[-1])


def headline(name: str, outcome: dict) -> float | None:
    key, _ = HEADLINES.get(name, ("", True))
    value = outcome.get(key)
    if name == "enqueue_100k":
        value = outcome.get("jobs_per_s", {}).get("sqlite")
    return float(value) if isinstance(value, int | float) else None


def compare(names: list[str], before: Path) -> None:
    for name in names:
        old = run_figure(name, before)
        new = run_figure(name, HERE)
        print(f"{name}\n  before: {old.get('line')}\n  after:  {new.get('line')}", flush=True)
        a, b = headline(name, old), headline(name, new)
        if a and b:
            better = HEADLINES.get(name, ("", True))[1]
            print(f"  after/before: {b / a if better else a / b:.2f}x better", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("figures", nargs="*", choices=[[], *FIGURES], help="default: all")
    parser.add_argument("--single", choices=list(FIGURES), help=argparse.SUPPRESS)
    parser.add_argument("--against", type=Path, help="another checkout to compare with")
    args = parser.parse_args()
    if args.single:
        with tempfile.TemporaryDirectory(prefix=f"jobdeck-bench-{args.single}-") as tmp:
            print(json.dumps(FIGURES[args.single](Path(tmp))))
        return
    names = args.figures or list(FIGURES)
    if args.against:
        compare(names, args.against.resolve())
        return
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"figures": {}}
    results["machine"] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d"),
    }
    for name in names:
        outcome = run_figure(name, HERE)
        print(outcome.pop("line"), flush=True)
        results["figures"][name] = outcome
    if SCALE != 1:
        print(f"BENCH_SCALE={SCALE:g}: {RESULTS.name} is left as it was", flush=True)
        return
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
