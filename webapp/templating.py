"""Template helpers: rendering a page whole or as its htmx fragment, and display filters."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from flask import (
    Flask,
    Response,
    make_response,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from jinja2_fragments.flask import render_block
from markupsafe import Markup

from webapp.areas import nav_entries, record_namers, record_page
from webapp.local_time import (
    in_zone_and_viewers,
    input_time,
    localtime,
    localtime_text,
    times_in,
    viewer_zone,
    with_times,
    with_times_text,
)
from webapp.models.jobs import (
    ACTIVE_STATUSES,
    FINISHED_STATUSES,
    QUEUES,
    RETRYABLE_STATUSES,
    STATUSES,
    JobStatus,
)
from webapp.models.transfers import EXPORT_STATUSES, IMPORT_STATUSES
from webapp.services.job_labels import JobLabels, labels_for
from webapp.services.ownership import visible_job_ids
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


def render_live(
    template: str, blocks: Sequence[str], version: object, context: Callable[[], dict]
) -> Response:
    """A live page answered as ``render_page``, with an ETag made of ``version`` (what the page
    shows, in cheap reads), the viewer (user, role, time zone) and the part asked for. A poll
    that sends that ETag back in ``If-None-Match`` gets an empty 304 and ``context`` is never
    built: a page nobody changes costs the reads of its version only."""
    target = request.headers.get("HX-Target") if is_fragment_request() else None
    part = (target if target in blocks else blocks[0]) if is_fragment_request() else "page"
    viewer = (current_user.get_id(), getattr(current_user, "role", None), viewer_zone().key)
    digest = hashlib.sha256(repr((version, viewer, part)).encode()).hexdigest()[:32]
    if request.if_none_match.contains_weak(digest):
        response = Response(status=304)
        response.headers["Cache-Control"] = "no-store"
    else:
        response = render_page(template, blocks, live=True, **context())
    response.set_etag(digest)
    response.vary.update(("HX-Request", "HX-Target", "Cookie"))
    return response


def render_fragment(template: str, block: str, **context: Any):
    """Only one block of a page, for endpoints that exist to serve a live part."""
    response = make_response(render_block(template, block, **context))
    response.headers["Cache-Control"] = "no-store"
    return response


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


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def job_timing(job: Any) -> dict[str, Any]:
    """What a job's duration cell says: ``kind`` is "retry" (``seconds`` until its next
    attempt, ``at``), "running" (``seconds`` so far, since ``since``), "attempts" (a job that
    ended after several attempts: ``total`` from queued to its end and ``last``, its last
    attempt's duration), or "plain" (``seconds``, possibly None)."""
    now = datetime.now(UTC)
    if job.status == JobStatus.PENDING.value:
        if job.next_attempt_at is not None:
            left = max(job.next_attempt_at.timestamp() - now.timestamp(), 0.0)
            return {"kind": "retry", "seconds": left, "at": _utc(job.next_attempt_at)}
        return {"kind": "plain", "seconds": None}
    if job.status == JobStatus.RUNNING.value and job.started_at is not None:
        return {"kind": "running", "seconds": job.duration_s, "since": _utc(job.started_at)}
    if job.attempts > 1 and job.finished_at is not None and job.started_at is not None:
        total = job.finished_at.timestamp() - job.created_at.timestamp()
        return {"kind": "attempts", "total": max(total, 0.0), "last": job.duration_s}
    return {"kind": "plain", "seconds": job.duration_s}


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


def already_working(what: str, job, viewer) -> Markup:
    """A flash saying ``what`` already has ``job`` queued or running, with a link to it when
    the viewer may see it."""
    state = "queued" if job.status == "pending" else "running"
    if not visible_job_ids([job.id], viewer):
        return Markup("{} already has a job {} (job #{}, another user's).").format(
            what, state, job.id
        )
    return Markup('{} already has a job {}: <a href="{}">job #{}</a>.').format(
        what, state, url_for("jobs.show", job_id=job.id), job.id
    )


def job_labels(jobs: Any) -> JobLabels:
    """The names of a page of jobs' records and their users' e-mails, loaded together."""
    return labels_for(jobs, record_namers())


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def init_app(app: Flask) -> None:
    app.add_template_filter(localtime)
    app.add_template_filter(localtime_text)
    app.add_template_filter(with_times)
    app.add_template_filter(times_in)
    app.add_template_filter(in_zone_and_viewers)
    app.add_template_filter(with_times_text)
    app.add_template_filter(duration)
    app.add_template_filter(pretty_json)
    app.add_template_filter(plain_value)
    app.add_template_filter(change_lines)
    app.add_template_filter(percent)
    app.add_template_filter(input_time)
    app.add_template_global(record_url)
    app.add_template_global(job_labels)
    app.add_template_global(nav_entries)
    app.add_template_global(job_timing)
    app.add_template_global(waiting_reason)
    app.add_template_global(viewer_zone)

    # Written once in the models; globals (not a context processor) so that macros imported
    # without the page's context see them too.
    app.jinja_env.globals.update(
        QUEUES=QUEUES,
        STATUSES=STATUSES,
        ACTIVE_STATUSES=ACTIVE_STATUSES,
        FINISHED_STATUSES=FINISHED_STATUSES,
        RETRYABLE_STATUSES=RETRYABLE_STATUSES,
        IMPORT_STATUSES=IMPORT_STATUSES,
        EXPORT_STATUSES=EXPORT_STATUSES,
    )
