"""What the areas' flask commands share: how a command group joins the app (``add_command``)
and the output helpers in ``output``. Each area's own commands live in its folder (``cli.py``)."""

import click
from flask import Flask


def add_command(app: Flask, command: click.Command) -> None:
    """Make ``command`` a ``flask`` command of ``app``."""
    app.cli.add_command(command)
