"""What the areas' flask commands share: how a command group joins the app (``add_command``)
and the output helpers in ``output``. Each area's own commands live in its folder (``cli.py``)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click
from flask import Flask

from webapp.exceptions import ServiceError


def _reporting(callback: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except ServiceError as exc:
            raise click.ClickException(exc.describe()) from None

    run.reports_service_errors = True  # type: ignore[attr-defined]
    return run


def report_service_errors(command: click.Command) -> None:
    """Make ``command`` and every command under it end a ServiceError the contract's way:
    one line on stderr ("Error: …"), exit code 1, no traceback. Safe to apply again."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            report_service_errors(sub)
    elif command.callback is not None and not getattr(
        command.callback, "reports_service_errors", False
    ):
        command.callback = _reporting(command.callback)


def add_command(app: Flask, command: click.Command) -> None:
    """Make ``command`` a ``flask`` command of ``app``, reporting service errors as above."""
    report_service_errors(command)
    app.cli.add_command(command)
