"""Printing what a command reports: a plain table, or JSON with ``--json``."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import click


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Left-aligned columns sized to their widest cell."""
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def json_option(func):
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(func)


class Progress:
    """A progress report for long work, called as ``report(progress=0..100, message=…)``: a bar
    on a terminal, and on anything else (a log, a pipe) a plain line at every tenth done.
    ``quiet``: work too short to follow, reported not at all."""

    def __init__(self, label: str, stream=None, quiet: bool = False) -> None:
        self.label = label
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.terminal = self.stream.isatty()
        self.bar = None
        self.shown = 0
        self.last_step = -1

    def __enter__(self) -> Progress:
        if self.terminal and not self.quiet:
            self.bar = click.progressbar(length=100, label=self.label, file=self.stream)
            self.bar.__enter__()
        return self

    def __call__(self, progress: float | None = None, message: str | None = None, **_) -> None:
        if self.quiet:
            return
        done = max(0, min(100, int(progress or 0)))
        if self.bar is not None:
            self.bar.update(done - self.shown)
            self.shown = done
            return
        step = done // 10
        if step > self.last_step:
            self.last_step = step
            click.echo(f"{self.label}: {message or f'{done}%'}", file=self.stream)

    def __exit__(self, *exc_info) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc_info)
