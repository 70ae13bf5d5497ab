"""Template helpers: rendering a page whole or as its htmx fragment, and display filters."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Flask,
    current_app,
    has_request_context,
    make_response,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from jinja2_fragments.flask import render_block
from markupsafe import Markup

from webapp.areas import nav_entries, record_page
from webapp.models.jobs import QUEUES, JobStatus
from webapp.services.timing import zone_names
from webapp.services.waiting import waiting_reason


def is_fragment_request() -> bool:
    """An htmx request that is not a boosted navigation wants only the live part of a page.

    A history restore (the back button after htmx's cache missed) replaces the whole body, so it
    gets the whole page, whose filter form matches its table.
    """
    headers = request.headers
    return (
        headers.get("HX-Request") == "true"
        and headers.get("HX-Boosted") != "true"
        and headers.get("HX-History-Restore-Request") != "true"
    )


def render_page(template: str, blocks: Sequence[str], live: bool = False, **context: Any):
    """Render ``template`` whole, or for an htmx request the block the request targets.

    ``blocks`` are the page's live parts, each rendered inside an element whose id is the block
    name; the first is the default. ``live`` pages are never cached (they show running work).
    """
    if is_fragment_request():
        target = request.headers.get("HX-Target")
        block = target if target in blocks else blocks[0]
        html = render_block(template, block, **context)
    else:
        html = render_template(template, **context)
    response = make_response(html)
    response.vary.add("HX-Request")
    if live:
        response.headers["Cache-Control"] = "no-store"
    return response


def render_fragment(template: str, block: str, **context: Any):
    """Only one block of a page, for endpoints that exist to serve a live part."""
    response = make_response(render_block(template, block, **context))
    response.headers["Cache-Control"] = "no-store"
    return response


# Set by static/jobdeck.js from the browser's own zone, for users who chose "the browser's".
ZONE_COOKIE = "jobdeck_tz"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


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


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def localtime_text(value: datetime | None, fmt: str = TIME_FORMAT) -> str:
    """A stored UTC time as plain text in the viewer's zone (for places that take no markup)."""
    if value is None:
        return "—"
    return _utc(value).astimezone(viewer_zone()).strftime(fmt)


def localtime(value: datetime | None, fmt: str = TIME_FORMAT) -> Markup:
    """A stored UTC time in the viewer's zone, the same format everywhere, as a ``<time>``
    element whose tooltip gives it in UTC."""
    if value is None:
        return Markup("—")
    utc = _utc(value)
    local = utc.astimezone(viewer_zone())
    zone = local.tzname() or ""
    return Markup('<time datetime="{}" title="{} UTC">{}</time>').format(
        utc.isoformat(), utc.strftime(TIME_FORMAT), f"{local.strftime(fmt)} {zone}".strip()
    )


def duration(seconds: float | None) -> str:
    """Seconds as a short human duration: 850 ms, 12.3 s, 4 min 5 s, 2 h 10 min."""
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def percent(value: float | None) -> str:
    """A percentage, or a dash when there was nothing to divide."""
    return "—" if value is None else f"{value:g} %"


# Where each kind of record a job works for is shown: (endpoint, its id argument).
def record_url(source_type: str | None, source_id: int | None) -> str | None:
    """The page of the record a job worked for; its list of jobs when it has no page."""
    if not source_type or source_id is None:
        return None
    page = record_page(source_type)
    if page is not None:
        return page.url(source_id)
    return url_for("jobs.index", source_type=source_type, source_id=source_id)


def plain_value(value: Any) -> str:
    """A stored value as a person reads it, never as Python: — for nothing, yes/no, a list or
    an object spelled out (``--days: 30``), not ``{'--days': '30'}``."""
    if value is None or value == "" or value == {} or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{key}: {plain_value(item)}" for key, item in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(plain_value(item) for item in value)
    return str(value)


def change_lines(changes: dict[str, Any] | None) -> list[tuple[str, str]]:
    """An audit row's changes as (field, text) lines: ``old → new`` for an edit (the log
    stores it as ``[before, after]``), else the value it was given. An edit that reads the
    same on both sides (nothing → an empty text) is no line."""
    lines = []
    for field, value in (changes or {}).items():
        if isinstance(value, list) and len(value) == 2:
            before, after = plain_value(value[0]), plain_value(value[1])
            if before == after:
                continue
            text = f"{before} → {after}"
        else:
            text = plain_value(value)
        lines.append((field, text))
    return lines


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def init_app(app: Flask) -> None:
    app.add_template_filter(localtime)
    app.add_template_filter(localtime_text)
    app.add_template_filter(duration)
    app.add_template_filter(pretty_json)
    app.add_template_filter(plain_value)
    app.add_template_filter(change_lines)
    app.add_template_filter(percent)
    app.add_template_global(record_url)
    app.add_template_global(nav_entries)
    app.add_template_global(waiting_reason)

    @app.context_processor
    def common() -> dict[str, Any]:
        return {
            "QUEUES": QUEUES,
            "STATUSES": [s.value for s in JobStatus],
        }
