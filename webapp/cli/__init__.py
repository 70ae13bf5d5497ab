"""What the areas' flask commands share: how a command group joins the app (``add_command``)
and the output helpers in ``output``. Each area's own commands live in its folder (``cli.py``)."""

import os
from functools import wraps

import click
from flask import Flask

from webapp.services import audit

# Set by the scheduler for the commands it runs: what they do is the system's doing.
SCHEDULED_ENV = "JOBDECK_SCHEDULED_RUN"


def add_command(app: Flask, command: click.Command) -> None:
    """Make ``command`` a ``flask`` command of ``app``; what it records in the audit log is
    done by ``cli:<os user>``."""
    _audited_as_cli(command)
    app.cli.add_command(command)


def _audited_as_cli(command: click.Command) -> None:
    # Command objects are module-level and shared by every app built in this process: wrap once.
    if getattr(command, "_audited_as_cli", False):
        return
    invoke = command.invoke

    @wraps(invoke)
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
