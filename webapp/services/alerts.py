"""Alerts: raised once when something needs an operator, cleared when it no longer does,
shown on the dashboard and POSTed to ALERT_WEBHOOK_URL."""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx
from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import Alert, JobLog, JobStatus
from webapp.services import outbound
from webapp.services.outbound import OutboundError
from webapp.services.schedules import overdue_for_success

log = logging.getLogger(__name__)
FAILURE_RATE_KEY = "failures-last-hour"


def open_alerts() -> list[Alert]:
    return list(
        db.session.scalars(select(Alert).where(Alert.cleared_at.is_(None)).order_by(Alert.id))
    )


def raise_alert(key: str, message: str) -> Alert | None:
    """Open the alert ``key`` unless it is open already, whose text then becomes ``message``
    (the dashboard shows the figures as they are now); returns it only when newly raised,
    which alone is notified."""
    alert = Alert(key=key, message=message)
    db.session.add(alert)
    try:
        db.session.commit()
    except IntegrityError:  # already open: one alert, not one per occurrence
        db.session.rollback()
        db.session.execute(
            update(Alert)
            .where(Alert.key == key, Alert.cleared_at.is_(None), Alert.message != message)
            .values(message=message)
        )
        db.session.commit()
        return None
    notify(alert, "raised")
    return alert


def clear_alert(key: str) -> bool:
    result = db.session.execute(
        update(Alert)
        .where(Alert.key == key, Alert.cleared_at.is_(None))
        .values(cleared_at=utcnow())
    )
    db.session.commit()
    if result.rowcount:
        notify(Alert(key=key, message=f"{key} cleared"), "cleared")
    return bool(result.rowcount)


def notify(alert: Alert, state: str) -> None:
    """POST the alert to ALERT_WEBHOOK_URL; a webhook that fails is logged, never raised."""
    url = current_app.config.get("ALERT_WEBHOOK_URL")
    body = {"alert": alert.key, "state": state, "message": alert.message}
    log.warning("alert %s: %s", state, alert.message)
    if not url:
        return
    try:
        response = outbound.request("POST", url, json=body)
        if response.status_code >= 400:
            raise OutboundError(f"it answered {response.status_code}")
        if alert.id is not None:
            alert.notified = True
            db.session.commit()
    except (httpx.HTTPError, OutboundError) as exc:
        log.error("could not POST the alert to %s: %s", outbound.display_url(url), exc)


def check_failure_rate() -> None:
    """Raise the failure alert when more than ALERT_FAILED_PER_HOUR jobs failed in the last
    hour; clear it when the rate falls back."""
    limit = current_app.config["ALERT_FAILED_PER_HOUR"]
    failed = db.session.scalar(
        select(func.count()).where(
            JobLog.status == JobStatus.FAILED.value,
            JobLog.finished_at >= utcnow() - timedelta(hours=1),
        )
    )
    if failed > limit:
        raise_alert(
            FAILURE_RATE_KEY, f"{failed} jobs failed in the last hour (the limit is {limit})."
        )
    else:
        clear_alert(FAILURE_RATE_KEY)


def check_schedules() -> None:
    """One alert per active schedule with no successful run within its owner's window."""
    late = {s.id: s for s in overdue_for_success()}
    for schedule in late.values():
        raise_alert(
            f"schedule:{schedule.id}",
            f"The schedule {schedule.name!r} has not succeeded within "
            f"{schedule.success_window_minutes} minutes.",
        )
    open_keys = db.session.scalars(
        select(Alert.key).where(Alert.cleared_at.is_(None), Alert.key.like("schedule:%"))
    )
    for key in list(open_keys):
        if int(key.split(":", 1)[1]) not in late:
            clear_alert(key)
