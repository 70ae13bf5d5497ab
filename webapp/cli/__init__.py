"""The flask command groups."""

from flask import Flask

from webapp.cli.demo import demo
from webapp.cli.integrations import integrations_cli
from webapp.cli.jobs import jobs_cli
from webapp.cli.queue import queue_cli
from webapp.cli.schedules import schedule_cli
from webapp.cli.series import episodes_cli, series_cli
from webapp.cli.transfers import exports_cli, imports_cli
from webapp.cli.users import users_cli


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
        app.cli.add_command(command)
