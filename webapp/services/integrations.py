"""Integrations: per-user polling of an outside service, each through a plugin.

An integration is *due* when it was never tried or when its frequency has passed since its last
success or its last final failure, and *processing* from the moment it is triggered until its job
ends (success, failure, cancel, timeout); a processing integration is never dispatched again.
Errors that asking again cannot fix (a 404, a 401, bad settings) fail at once, without retries.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
from sqlalchemy import and_, or_, select, update

from jobkit.redaction import redact_text
from webapp.exceptions import Invalid, NotFound
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.integrations import Integration
from webapp.models.jobs import ACTIVE_STATUSES, JobLog, JobStatus
from webapp.services import audit, outbound, vault
from webapp.services.ownership import unseen
from webapp.services.tvmaze import TVmazeError, UpstreamUnavailable, tvmaze

MIN_FREQUENCY_MINUTES = 1
# A trigger is claimed a moment before its job row is written; a claim this old without a
# pending or running job belongs to a job that ended without saying so (cancelled while it
# waited, lost) or to a dispatch that never happened.
CLAIM_GRACE_SECONDS = 30
TRANSIENT_STATUSES = (408, 429)


class IntegrationError(Invalid):
    """Bad settings or an unknown service; also what a plugin raises when its fetch fails."""


class IntegrationNotFound(NotFound, IntegrationError):
    """No integration with this id that the caller owns."""


class IntegrationPlugin:
    """One kind of outside service. Subclasses name their settings and fetch a snapshot."""

    service: ClassVar[str]
    label: ClassVar[str]
    settings_help: ClassVar[dict[str, str]]

    def clean_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        """Validated settings; IntegrationError with a message per problem."""
        raise NotImplementedError

    def fetch(
        self, integration: Integration, settings: dict[str, Any], checkpoint: Callable[[], None]
    ) -> dict[str, Any]:
        """The current snapshot, with the settings as entered (secrets decrypted);
        UpstreamUnavailable when worth retrying, IntegrationError (or TVmazeError) when not.
        ``checkpoint()`` between requests lets the job stop there."""
        raise NotImplementedError


class TVmazeUpcomingEpisodes(IntegrationPlugin):
    """Follows one TVmaze show: its upcoming episodes."""

    service = "tvmaze_upcoming"
    label = "TVmaze: upcoming episodes of a show"
    settings_help = {"tvmaze_id": "the show's TVmaze id, e.g. 82 for Game of Thrones"}

    def clean_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        raw = str(settings.get("tvmaze_id", "")).strip()
        if not raw.isdigit() or int(raw) <= 0:
            raise IntegrationError("tvmaze_id: a positive whole number is required")
        return {"tvmaze_id": int(raw)}

    def fetch(
        self, integration: Integration, settings: dict[str, Any], checkpoint: Callable[[], None]
    ) -> dict[str, Any]:
        show_id = settings["tvmaze_id"]
        client = tvmaze()
        show = client.show(show_id)
        checkpoint()
        today = date.today().isoformat()
        upcoming = [
            {
                "season": e.get("season"),
                "number": e.get("number"),
                "name": e.get("name"),
                "airdate": e.get("airdate"),
            }
            for e in client.episodes(show_id)
            if (e.get("airdate") or "") >= today
        ]
        return {"show": show.get("name"), "status": show.get("status"), "upcoming": upcoming}


class JsonUrlPoller(IntegrationPlugin):
    """Polls a JSON URL and keeps the latest document."""

    service = "json_url"
    label = "Any JSON URL: keep the latest snapshot"
    settings_help = {"url": "an http(s) URL that answers with JSON"}

    def clean_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        url = str(settings.get("url", "")).strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise IntegrationError("url: an http:// or https:// address is required")
        return {"url": url}

    def fetch(
        self, integration: Integration, settings: dict[str, Any], checkpoint: Callable[[], None]
    ) -> dict[str, Any]:
        url = settings["url"]
        # Errors name the URL without its query: that is where keys travel.
        shown = outbound.display_url(url)
        try:
            response = outbound.request("GET", url)
        except outbound.OutboundError as exc:
            raise IntegrationError(str(exc)) from exc
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"{shown} cannot be reached ({type(exc).__name__})") from exc
        if response.status_code >= 500 or response.status_code in TRANSIENT_STATUSES:
            raise UpstreamUnavailable(f"{shown} answered {response.status_code}")
        if response.status_code >= 400:
            raise IntegrationError(f"{shown} answered {response.status_code}")
        try:
            return {"body": response.json()}
        except ValueError as exc:
            raise IntegrationError(f"{shown} did not answer with JSON") from exc


PLUGINS: dict[str, IntegrationPlugin] = {
    plugin.service: plugin for plugin in (TVmazeUpcomingEpisodes(), JsonUrlPoller())
}


def plugin_for(service: str) -> IntegrationPlugin:
    try:
        return PLUGINS[service]
    except KeyError:
        raise IntegrationError(
            f"unknown service {service!r}; use one of {', '.join(sorted(PLUGINS))}"
        ) from None


# -- managing -------------------------------------------------------------------------------


def create_integration(
    user_id: int, service: str, name: str, settings: dict[str, Any], frequency_minutes: int
) -> Integration:
    plugin = plugin_for(service)
    if frequency_minutes < MIN_FREQUENCY_MINUTES:
        raise IntegrationError("the update frequency must be at least 1 minute")
    integration = Integration(
        user_id=user_id,
        service=service,
        name=name.strip() or plugin.label,
        update_frequency_minutes=frequency_minutes,
    )
    store_settings(integration, plugin.clean_settings(settings))
    db.session.add(integration)
    db.session.flush()
    # Never the settings: they may hold the integration's secrets.
    audit.record(
        "integration.create",
        ("integration", integration.id),
        changes={"service": service, "name": integration.name, "every": frequency_minutes},
    )
    db.session.commit()
    return integration


def set_active(integration: Integration, active: bool) -> Integration:
    """Pause or resume an integration's updates; audited as ``integration.update``."""
    if integration.active != active:
        audit.record(
            "integration.update",
            ("integration", integration.id),
            changes={"active": [integration.active, active]},
        )
        integration.active = active
        db.session.commit()
    return integration


def delete_integration(integration: Integration) -> None:
    """Delete an integration; audited as ``integration.delete``."""
    audit.record(
        "integration.delete",
        ("integration", integration.id),
        changes={"service": integration.service, "name": integration.name},
    )
    db.session.delete(integration)
    db.session.commit()


def store_settings(integration: Integration, settings: dict[str, Any]) -> None:
    """Keep cleaned settings: in the clear as shown, encrypted as entered if they hold secrets."""
    integration.settings = vault.shown(settings)
    integration.encrypted_settings = (
        vault.encrypt(settings) if integration.settings != settings else None
    )


def working_settings(integration: Integration) -> dict[str, Any]:
    """The settings as entered, secrets decrypted: only for the job that uses them."""
    if integration.encrypted_settings is None:
        return dict(integration.settings)
    try:
        return vault.decrypt(integration.encrypted_settings)
    except vault.VaultError as exc:
        raise IntegrationError(str(exc)) from exc


def integration_for(integration_id: int, user_id: int | None = None) -> Integration:
    """The integration, only if ``user_id`` owns it (None: anyone's, for commands and tasks)."""
    integration = db.session.get(Integration, integration_id)
    if user_id is not None and (integration is None or integration.user_id != user_id):
        raise IntegrationNotFound(unseen(f"integration {integration_id}"))
    if integration is None:
        raise IntegrationNotFound(f"integration {integration_id} not found")
    return integration


def integrations_of(user_id: int | None = None, service: str | None = None) -> list[Integration]:
    stmt = select(Integration).order_by(Integration.id)
    if user_id is not None:
        stmt = stmt.where(Integration.user_id == user_id)
    if service:
        stmt = stmt.where(Integration.service == service)
    return list(db.session.scalars(stmt))


def owners_of(integration_ids: list[int]) -> dict[int, list[int]]:
    """The integrations' ids by their owners' ids."""
    by_owner: dict[int, list[int]] = {}
    rows = db.session.execute(
        select(Integration.user_id, Integration.id)
        .where(Integration.id.in_(integration_ids))
        .order_by(Integration.id)
    )
    for owner, integration_id in rows:
        by_owner.setdefault(owner, []).append(integration_id)
    return by_owner


# -- the update cycle -----------------------------------------------------------------------

NOT_PROCESSING = or_(
    Integration.last_triggered_at.is_(None),
    Integration.last_successful_update_at >= Integration.last_triggered_at,
)
# (spelled out, not ~NOT_PROCESSING: with no success yet the comparison is NULL, not false)
PROCESSING = and_(
    Integration.last_triggered_at.is_not(None),
    or_(
        Integration.last_successful_update_at.is_(None),
        Integration.last_successful_update_at < Integration.last_triggered_at,
    ),
)


def trigger_due(
    service: str | None = None, force: bool = False, only_ids: list[int] | None = None
) -> list[int]:
    """Mark due integrations (all active ones with ``force``) triggered; returns their ids.

    First releases the ones whose job has ended without telling them. Each is claimed with a
    conditional UPDATE, so two checkers running at once never trigger the same integration twice.
    Audited as ``integration.fetch`` when a person asked.
    """
    if service:
        plugin_for(service)
    release_ended()
    stmt = select(Integration).where(Integration.active.is_(True), NOT_PROCESSING)
    if service:
        stmt = stmt.where(Integration.service == service)
    if only_ids is not None:
        stmt = stmt.where(Integration.id.in_(only_ids))
    now = utcnow()
    candidates = [i.id for i in db.session.scalars(stmt) if force or i.is_due(now)]
    claimed = []
    for integration_id in candidates:
        result = db.session.execute(
            update(Integration)
            .where(Integration.id == integration_id, NOT_PROCESSING)
            .values(last_triggered_at=now)
        )
        if result.rowcount:
            claimed.append(integration_id)
    # The consumer's own checks every 30 s are routine, not anyone's action.
    if audit.current_channel() == "system":
        pass
    elif len(claimed) == 1 and only_ids is not None:
        audit.record("integration.fetch", ("integration", claimed[0]))
    elif claimed:
        audit.record(
            "integration.fetch",
            count=len(claimed),
            filters={"service": service, "force": force},
            records=("integration", claimed),
        )
    db.session.commit()
    return claimed


def release_ended() -> list[int]:
    """End the processing state of integrations whose job is over (cancelled while waiting for a
    retry, lost, never dispatched); a cancelled or failed job counts as a final failure, so the
    integration waits its frequency. Returns the released ids."""
    cutoff = utcnow() - timedelta(seconds=CLAIM_GRACE_SECONDS)
    stuck = db.session.scalars(
        select(Integration).where(PROCESSING, Integration.last_triggered_at < cutoff)
    ).all()
    released = []
    for integration in stuck:
        job = db.session.scalars(
            select(JobLog)
            .where(JobLog.source_type == "integration", JobLog.source_id == integration.id)
            .order_by(JobLog.id.desc())
            .limit(1)
        ).first()
        if job is not None and job.status in ACTIVE_STATUSES:
            continue
        if job is None or job.created_at < integration.last_triggered_at:
            error = "its update was never dispatched"
        elif job.status == JobStatus.CANCELLED:
            error = f"its job #{job.id} was cancelled"
        else:
            error = job.error or f"its job #{job.id} ended {job.status}"
        released.append(integration.id)
        _end_trigger(integration.id, error, triggered_before=cutoff)
    db.session.commit()
    return released


def process(integration_id: int, checkpoint: Callable[[], None] = lambda: None) -> str:
    """Fetch a snapshot through the integration's plugin and record success.

    Raises IntegrationError for what retrying cannot fix: stored settings the plugin refuses, and
    any answer of the upstream other than "unavailable" (a 404, a 401); UpstreamUnavailable
    otherwise."""
    integration = integration_for(integration_id)
    plugin = plugin_for(integration.service)
    settings = working_settings(integration)
    plugin.clean_settings(settings)
    try:
        snapshot = plugin.fetch(integration, settings, checkpoint)
    except UpstreamUnavailable:
        raise
    except TVmazeError as exc:
        raise IntegrationError(str(exc)) from exc
    checkpoint()
    digest = hashlib.sha256(json.dumps(snapshot, sort_keys=True, default=str).encode()).hexdigest()
    changed = digest != integration.data_hash
    now = utcnow()
    if changed:
        integration.data = snapshot
        integration.data_hash = digest
        integration.data_changed_at = now
    integration.last_successful_update_at = now
    integration.last_error = None
    db.session.commit()
    return f"{integration.name}: {'changed' if changed else 'unchanged'}."


def record_failure(integration_id: int, error: str) -> None:
    """After the last attempt (or a cancel): clear the trigger and keep the error; the next
    attempt waits the integration's full frequency from now."""
    _end_trigger(integration_id, error)
    db.session.commit()


def _end_trigger(integration_id: int, error: str, triggered_before: datetime | None = None) -> None:
    """Clear the trigger and record the error as of now; with ``triggered_before``, only a
    trigger older than that (not one a checker claimed meanwhile)."""
    stmt = update(Integration).where(Integration.id == integration_id)
    if triggered_before is not None:
        stmt = stmt.where(Integration.last_triggered_at < triggered_before)
    db.session.execute(
        stmt.values(last_triggered_at=None, last_error=redact_text(error), last_error_at=utcnow())
    )


def next_update_at(integration: Integration):
    """When it becomes due: its frequency after its last success or final failure."""
    ended = integration.last_attempt_ended_at
    if ended is None:
        return None
    return ended + timedelta(minutes=integration.update_frequency_minutes)
