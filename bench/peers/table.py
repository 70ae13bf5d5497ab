"""The peer table: each system's median rate over the rounds, its CPU per 1,000 jobs, and its
rate as a ratio of each Jobdeck reference's."""

from __future__ import annotations

import statistics

from bench.peers import REFERENCES, SYSTEMS


def summarise(drains: dict[str, list[dict]]) -> dict[str, dict]:
    """Per system: the median jobs/s of its drains, their range, the median worker CPU
    milliseconds per 1,000 jobs, and ``vs_<reference>``: its median rate / the reference's."""
    summary, medians = {}, {}
    for name, runs in drains.items():
        rates = sorted(run["per_s"] for run in runs)
        medians[name] = statistics.median(rates)
        summary[name] = {
            "jobs": runs[0]["jobs"],
            "per_s": round(medians[name]) if medians[name] >= 100 else round(medians[name], 1),
            "range_per_s": [round(rates[0]), round(rates[-1])],
            "cpu_ms_per_1000": round(
                statistics.median(run["cpu_s"] * 1e6 / run["jobs"] for run in runs)
            ),
            "drains": len(runs),
        }
    for name, row in summary.items():
        for reference in REFERENCES:
            if reference in summary:
                ratio = medians[name] / medians[reference]
                row[f"vs_{reference}"] = float(f"{ratio:.3g}")
    return summary


def ratio_text(ratio: float) -> str:
    """Two decimals, or two significant digits below 0.1 (so 0.0036× does not read 0.00×)."""
    return f"{ratio:.2f}×" if ratio >= 0.1 else f"{ratio:.2g}×"


def render(summary: dict[str, dict]) -> str:
    """A Markdown table, fastest first."""
    references = [r for r in REFERENCES if r in summary]
    heads = [f"rate ÷ {SYSTEMS[r].label.split(' (')[0].replace(',', '')}'s" for r in references]
    lines = [
        "| system, as its users run it | tracking it keeps per job | jobs a drain "
        "| drained no-op jobs/s (range) | worker CPU ms / 1,000 jobs | " + " | ".join(heads) + " |",
        "|---|---|---|---|---|" + "---|" * len(references),
    ]
    for name, row in sorted(summary.items(), key=lambda item: -item[1]["per_s"]):
        low, high = row["range_per_s"]
        ratios = [ratio_text(row[f"vs_{r}"]) for r in references]
        bold = "**" if name in REFERENCES else ""
        lines.append(
            f"| {bold}{SYSTEMS[name].label}{bold} | {SYSTEMS[name].tracking} | {row['jobs']:,} "
            f"| {bold}{row['per_s']:,}{bold} ({low:,}–{high:,}) | {row['cpu_ms_per_1000']:,} | "
            + " | ".join(ratios)
            + " |"
        )
    return "\n".join(lines)
