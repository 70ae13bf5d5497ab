"""Option types for the areas' commands, bounded like every other door (``webapp.boundary``):
a bad value is a usage error (exit 2) with the reason."""

from __future__ import annotations

from datetime import datetime

import click

from webapp import boundary
from webapp.exceptions import ServiceError


class Moment(click.ParamType):
    """An ISO 8601 time (UTC unless it names an offset)."""

    name = "time"

    def convert(self, value, param, ctx) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return boundary.moment(value, param.opts[0] if param else "time")
        except ServiceError as exc:
            self.fail(str(exc), param, ctx)


class Text(click.ParamType):
    """Text without NUL, at most ``boundary.MAX_TEXT`` characters."""

    name = "text"

    def convert(self, value, param, ctx) -> str:
        try:
            return boundary.text(value, param.opts[0] if param else "text")
        except ServiceError as exc:
            self.fail(str(exc), param, ctx)


MOMENT = Moment()
# A calendar day as typed on the command line; a bad one is a usage error that names the option.
DAY = click.DateTime(formats=["%Y-%m-%d"])
TEXT = Text()
