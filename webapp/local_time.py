"""Times as the viewer reads and types them: stored in UTC, shown in the viewer's zone (one
format everywhere, the time in UTC as its tooltip), and typed into filters in that zone too."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_request_context, request
from flask_login import current_user
from markupsafe import Markup, escape
from wtforms import DateTimeLocalField

from webapp.services.timing import zone_names

# Set by static/jobdeck.js from the browser's own zone, for users who chose "the browser's".
ZONE_COOKIE = "jobdeck_tz"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# What a datetime-local input sends and shows (the browser leaves out the seconds when zero).
INPUT_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")


def viewer_zone() -> ZoneInfo:
    """The zone times are shown in: the user's setting; else the browser's (its cookie); else
    the server's (``DISPLAY_TIMEZONE``, UTC unless set)."""
    for name in (
        getattr(current_user, "timezone", None),
        request.cookies.get(ZONE_COOKIE) if has_request_context() else None,
        current_app.config.get("DISPLAY_TIMEZONE"),
    ):
        if name and name in zone_names():
            return ZoneInfo(name)
    return ZoneInfo("UTC")


def _moment(value: datetime | str) -> datetime | None:
    """An aware UTC datetime from a stored time (naive means UTC) or an ISO 8601 text (as job
    histories keep them); None for text that is no time."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _zone(zone: str | ZoneInfo | None) -> ZoneInfo:
    if isinstance(zone, ZoneInfo):
        return zone
    if zone and zone in zone_names():
        return ZoneInfo(zone)
    return viewer_zone()


def _shown(moment: datetime, fmt: str, zone: str | ZoneInfo | None) -> str:
    local = moment.astimezone(_zone(zone))
    return f"{local.strftime(fmt)} {local.tzname() or ''}".strip()


def localtime_text(value: datetime | str | None, fmt: str = TIME_FORMAT) -> str:
    """A stored UTC time as plain text in the viewer's zone, without the zone's name, for
    places that take no markup and say the zone elsewhere (a chart's labels)."""
    if value is None or value == "":
        return "—"
    moment = _moment(value)
    return str(value) if moment is None else moment.astimezone(viewer_zone()).strftime(fmt)


def localtime(
    value: datetime | str | None, fmt: str = TIME_FORMAT, zone: str | ZoneInfo | None = None
) -> Markup:
    """A stored UTC time in the viewer's zone (or ``zone``), the same format everywhere, as a
    ``<time>`` element whose tooltip gives it in UTC."""
    if value is None or value == "":
        return Markup("—")
    moment = _moment(value)
    if moment is None:
        return escape(str(value))
    return Markup('<time datetime="{}" title="{} UTC">{}</time>').format(
        moment.isoformat(), moment.strftime(TIME_FORMAT), _shown(moment, fmt, zone)
    )


def in_zone_and_viewers(value: datetime | None, zone: str) -> Markup:
    """A time in ``zone`` (a schedule's), and in the viewer's own zone beside it when that is
    another one."""
    if value is None:
        return Markup("—")
    if _zone(zone).key == viewer_zone().key:
        return Markup('{} <small class="zone-note">({})</small>').format(
            localtime(value, zone=zone), zone
        )
    return Markup('{} <small class="zone-note">({}; {} your time)</small>').format(
        localtime(value, zone=zone), zone, localtime(value)
    )


# An ISO 8601 UTC time inside stored text ("… missed from 2027-03-28T01:00:00Z to …").
ISO_IN_TEXT = re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|\+00:00)")


def times_in(text: str | None) -> Markup:
    """Stored text whose ISO 8601 UTC times are shown by ``localtime``, like every other time."""
    if not text:
        return Markup("")
    parts: list[str | datetime] = []
    end = 0
    for found in ISO_IN_TEXT.finditer(text):
        moment = _moment(found.group())
        parts += [text[end : found.start()], moment if moment else found.group()]
        end = found.end()
    parts.append(text[end:])
    return with_times(parts)


def with_times(parts: Iterable[str | datetime]) -> Markup:
    """A sentence kept as text and times (``WaitingReason.parts``), its times shown by
    ``localtime``."""
    return Markup("").join(localtime(p) if isinstance(p, datetime) else escape(p) for p in parts)


def with_times_text(parts: Iterable[str | datetime]) -> str:
    """The same sentence as plain text, for a tooltip."""
    return "".join(
        _shown(moment, TIME_FORMAT, None) if (moment := _as_time(p)) else str(p) for p in parts
    )


def _as_time(part: str | datetime) -> datetime | None:
    return _moment(part) if isinstance(part, datetime) else None


def from_viewer_zone(wall: datetime) -> datetime:
    """A time typed in the viewer's zone (naive; one with an offset is taken as it says) as an
    aware UTC datetime; OverflowError when that falls outside the years datetime can hold."""
    if wall.tzinfo is None:
        wall = wall.replace(tzinfo=viewer_zone())
    return wall.astimezone(UTC)


class LocalDateTimeField(DateTimeLocalField):
    """A datetime-local input read in the viewer's zone; its data is an aware UTC datetime.

    It also takes ISO 8601 with an offset or ``Z`` (``2026-03-28T01:00:00Z``), as the page's own
    links carry the filter, so that a shared link means the same moment to everyone.
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("format", list(INPUT_FORMATS))
        super().__init__(*args, **kwargs)

    def process_formdata(self, valuelist: list) -> None:
        if not valuelist or not (text := " ".join(valuelist).strip()):
            self.data = None
            return
        self.data = None
        wall = None
        for fmt in INPUT_FORMATS:
            try:
                wall = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        if wall is None:
            try:
                wall = datetime.fromisoformat(text)
            except ValueError:
                raise ValueError(
                    "Not a valid datetime value. Type one like 2026-03-28T14:30."
                ) from None
        try:
            self.data = from_viewer_zone(wall)
        except OverflowError:
            raise ValueError(f"{text[:40]!r} is outside the years this console can show") from None

    def _value(self) -> str:
        if self.data is None:
            return " ".join(self.raw_data) if self.raw_data else ""
        local = self.data.astimezone(viewer_zone())
        return local.strftime(INPUT_FORMATS[1] if local.second else INPUT_FORMATS[0])
