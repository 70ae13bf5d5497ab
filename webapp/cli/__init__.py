"""The flask command groups."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click
from flask import Flask

from webapp.cli.demo import demo
from webapp.cli.integrations import integrations_cli
from webapp.cli.jobs import jobs_cli
from webapp.cli.queue import queue_cli
from webapp.cli.schedules import schedule_cli
from webapp.cli.series import episodes_cli, series_cli
from webapp.cli.transfers import exports_cli, imports_cli
from webapp.cli.users import users_cli
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


def register_commands(app: Flask) -> None:
    for command in (
        users_cli,
        queue_cli,
        jobs_cli,
        series_cli,
        episodes_cli,
        integrations_cli,
        schedule_cli,
        imports_cli,
        exports_cli,
        demo,
    ):
        report_service_errors(command)
        app.cli.add_command(command)
