"""Consumer heartbeats, and finding the jobs of consumers that stopped beating."""

from __future__ import annotations

import socket
from datetime import timedelta

from sqlalchemy import or_, select, update

from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import Consumer, JobLog, JobStatus

HEARTBEAT_SECONDS = 5
LOST_AFTER_SECONDS = 30


def register(consumer_id: str, pid: int, workers: int) -> None:
    """Record a starting consumer (or restart an old record with the same id)."""
    now = utcnow()
    consumer = db.session.get(Consumer, consumer_id) or Consumer(id=consumer_id)
    consumer.hostname = socket.gethostname()
    consumer.pid = pid
    consumer.workers = workers
    consumer.started_at = consumer.heartbeat_at = now
    consumer.stopped_at = None
    db.session.add(consumer)
    db.session.commit()


def beat(consumer_id: str) -> None:
    db.session.execute(
        update(Consumer).where(Consumer.id == consumer_id).values(heartbeat_at=utcnow())
    )
    db.session.commit()


def stopped(consumer_id: str) -> None:
    db.session.execute(
        update(Consumer).where(Consumer.id == consumer_id).values(stopped_at=utcnow())
    )
    db.session.commit()


def live_consumers() -> list[Consumer]:
    """Consumers that beat within the last LOST_AFTER_SECONDS."""
    cutoff = utcnow() - timedelta(seconds=LOST_AFTER_SECONDS)
    return list(
        db.session.scalars(
            select(Consumer)
            .where(Consumer.stopped_at.is_(None), Consumer.heartbeat_at >= cutoff)
            .order_by(Consumer.id)
        )
    )


def lost_jobs() -> list[JobLog]:
    """Running jobs whose consumer stopped beating (or never registered) LOST_AFTER_SECONDS ago."""
    cutoff = utcnow() - timedelta(seconds=LOST_AFTER_SECONDS)
    alive = select(Consumer.id).where(
        Consumer.heartbeat_at >= cutoff, Consumer.stopped_at.is_(None)
    )
    return list(
        db.session.scalars(
            select(JobLog)
            .where(JobLog.status == JobStatus.RUNNING.value)
            .where(or_(JobLog.consumer_id.is_(None), JobLog.consumer_id.not_in(alive)))
            .where(JobLog.started_at < cutoff)
            .order_by(JobLog.id)
        )
    )


def claim_lost(job: JobLog, values: dict) -> bool:
    """Move a lost job on (to pending or failed) unless someone else already did."""
    result = db.session.execute(
        update(JobLog)
        .where(
            JobLog.id == job.id,
            JobLog.status == JobStatus.RUNNING.value,
            JobLog.started_at == job.started_at,
        )
        .values(**values)
    )
    db.session.commit()
    return bool(result.rowcount)


def lost_among(consumer_ids: list[str]) -> list[str]:
    """Those of ``consumer_ids`` that are known and stopped, or stopped beating
    LOST_AFTER_SECONDS ago (an id not yet registered is not lost)."""
    if not consumer_ids:
        return []
    cutoff = utcnow() - timedelta(seconds=LOST_AFTER_SECONDS)
    return list(
        db.session.scalars(
            select(Consumer.id)
            .where(Consumer.id.in_(consumer_ids))
            .where(or_(Consumer.stopped_at.is_not(None), Consumer.heartbeat_at < cutoff))
        )
    )


def claim_taken(job_id: int, values: dict) -> bool:
    """Move a pending job whose consumer was lost on (to failed) unless it already moved on."""
    result = db.session.execute(
        update(JobLog)
        .where(JobLog.id == job_id, JobLog.status == JobStatus.PENDING.value)
        .values(**values)
    )
    db.session.commit()
    return bool(result.rowcount)
