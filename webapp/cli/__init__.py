"""What the areas' flask commands share: how a command group joins the app (``add_command``)
and the output helpers in ``output``. Each area's own commands live in its folder (``cli.py``)."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import click
from flask import Flask

from webapp.exceptions import ServiceError
from webapp.services import audit

# Set by the scheduler for the commands it runs: what they do is the system's doing.
SCHEDULED_ENV = "JOBDECK_SCHEDULED_RUN"


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
    """Make ``command`` a ``flask`` command of ``app``, reporting service errors as above;
    what it records in the audit log is done by ``cli:<os user>``."""
    report_service_errors(command)
    _audited_as_cli(command)
    app.cli.add_command(command)


def _audited_as_cli(command: click.Command) -> None:
    # Command objects are module-level and shared by every app built in this process: wrap once.
    if getattr(command, "_audited_as_cli", False):
        return
    invoke = command.invoke

    @functools.wraps(invoke)
    def invoke_as_cli(ctx: click.Context):
        if os.environ.get(SCHEDULED_ENV):
            return invoke(ctx)
        token = audit.acting_as(audit.cli_actor())
        try:
            return invoke(ctx)
        finally:
            audit.stop_acting(token)

    command.invoke = invoke_as_cli
    command._audited_as_cli = True
