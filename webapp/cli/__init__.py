"""The flask command groups."""

import os
from functools import wraps

import click
from flask import Flask

from webapp.cli.audit import audit_cli
from webapp.cli.demo import demo
from webapp.cli.integrations import integrations_cli
from webapp.cli.jobs import jobs_cli
from webapp.cli.queue import queue_cli
from webapp.cli.schedules import schedule_cli
from webapp.cli.series import episodes_cli, series_cli
from webapp.cli.transfers import exports_cli, imports_cli
from webapp.cli.users import users_cli
from webapp.services import audit

# Set by the scheduler for the commands it runs: what they do is the system's doing.
SCHEDULED_ENV = "JOBDECK_SCHEDULED_RUN"

COMMANDS = (
    users_cli,
    queue_cli,
    jobs_cli,
    series_cli,
    episodes_cli,
    integrations_cli,
    schedule_cli,
    imports_cli,
    exports_cli,
    audit_cli,
    demo,
)


def _audited_as_cli(command: click.Command) -> None:
    """What ``command`` (and any subcommand) records is done by ``cli:<os user>``."""
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


# Once per process: the command objects are module-level, shared by every app.
for _command in COMMANDS:
    _audited_as_cli(_command)


def register_commands(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)
