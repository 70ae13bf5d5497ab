"""The peer comparison's own code (`make bench-peers`), without its peers: CI installs none of
them and runs no drain. The modules that run in Jobdeck's venv import, every peer module offers
what the drain calls, and the table's ratios are each system's rate over Jobdeck's."""

from __future__ import annotations

import ast
import importlib
import json
import re
from pathlib import Path

import pytest

from bench.common import scaled
from bench.peers import SYSTEMS
from bench.peers import __main__ as peers_main
from bench.peers.table import render, summarise

PEERS = Path(__file__).resolve().parents[1] / "bench" / "peers"


@pytest.mark.parametrize(
    "module",
    ["bench.peers.__main__", "bench.peers.jobdeck", "bench.peers.run", "bench.peers.stores"],
)
def test_jobdeck_side_modules_import(module):
    assert importlib.import_module(module).__doc__


@pytest.mark.parametrize("module", sorted({s.module for s in SYSTEMS.values()} - {"jobdeck"}))
def test_each_peer_module_offers_what_a_drain_calls(module):
    tree = ast.parse((PEERS / f"{module}.py").read_text())
    functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert {"reset", "enqueue", "worker_command"} <= functions


@pytest.mark.parametrize("library", ["celery", "rq", "procrastinate", "dramatiq"])
def test_every_peer_is_pinned_to_one_release(library):
    pins = (PEERS / "requirements.txt").read_text()
    assert re.search(rf"^{library}(\[[a-z,]+\])?==\d+\.\d+\.\d+$", pins, re.MULTILINE)


def drains(*rates: float, jobs: int = 1000, cpu_s: float = 0.5) -> list[dict]:
    return [{"per_s": rate, "cpu_s": cpu_s, "jobs": jobs} for rate in rates]


def test_table_gives_medians_and_ratios_to_each_jobdeck_reference():
    summary = summarise(
        {
            "jobdeck_sqlite": drains(3900, 4000, 4200),
            "jobdeck_redis_pg": drains(2000, 1900, 2100),
            "celery_prefork": drains(150, 200, 100, jobs=500, cpu_s=2.0),
        }
    )
    celery = summary["celery_prefork"]
    assert celery["per_s"] == 150
    assert celery["range_per_s"] == [100, 200]
    assert celery["cpu_ms_per_1000"] == 4000
    assert celery["vs_jobdeck_sqlite"] == pytest.approx(150 / 4000, abs=0.001)
    assert celery["vs_jobdeck_redis_pg"] == pytest.approx(150 / 2000, abs=0.001)
    assert summary["jobdeck_sqlite"]["vs_jobdeck_sqlite"] == 1
    assert summary["jobdeck_sqlite"]["vs_jobdeck_redis_pg"] == 2


def test_rendered_table_lists_fastest_first_with_its_ratios():
    lines = render(
        summarise(
            {
                "rq_fork": drains(14),
                "jobdeck_sqlite": drains(4000),
                "dramatiq": drains(500),
                "jobdeck_redis_pg": drains(2000),
            }
        )
    ).splitlines()
    rows = [line for line in lines[2:] if line.startswith("|")]
    assert [row.split("|")[1].strip(" *") for row in rows] == [
        SYSTEMS[name].label
        for name in ("jobdeck_sqlite", "jobdeck_redis_pg", "dramatiq", "rq_fork")
    ]
    assert rows[2].endswith("| 0.12× | 0.25× |")
    assert rows[3].endswith("| 0.0035× | 0.007× |")
    assert lines[0].endswith("| rate ÷ Jobdeck SQLite's | rate ÷ Jobdeck Redis + PostgreSQL's |")


def test_job_counts_take_overrides_and_refuse_unknown_systems():
    counts = peers_main.job_counts(["rq_fork=500"])
    assert counts["rq_fork"] == scaled(500)
    assert counts["dramatiq"] == scaled(SYSTEMS["dramatiq"].jobs)
    with pytest.raises(SystemExit):
        peers_main.job_counts(["kafka=10"])


def test_the_table_goes_into_results_beside_the_other_figures(tmp_path, monkeypatch):
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"machine": {"cpus": 2}, "figures": {"latency": {"p50": 3}}}))
    monkeypatch.setattr(peers_main, "RESULTS", results)
    peers_main.write(summarise({"jobdeck_sqlite": drains(4000), "dramatiq": drains(500)}), 3)
    written = json.loads(results.read_text())
    assert written["figures"]["latency"] == {"p50": 3}
    assert written["machine"] == {"cpus": 2}
    peers = written["figures"]["peers"]
    assert peers["rounds"] == 3
    assert peers["systems"]["dramatiq"]["vs_jobdeck_sqlite"] == 0.125
