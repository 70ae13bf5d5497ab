"""The job log: one row for every run of every task."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import IDS_NEVER_REUSED, UTCDateTime, isoformat, utcnow


class JobStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


# Every status, in the order the pages list them (forms, filters and the API read this).
STATUSES = tuple(status.value for status in JobStatus)
ACTIVE_STATUSES = (JobStatus.PENDING.value, JobStatus.RUNNING.value)
FINISHED_STATUSES = (
    JobStatus.COMPLETED.value,
    JobStatus.FAILED.value,
    JobStatus.CANCELLED.value,
)
# What a retry can start again from.
RETRYABLE_STATUSES = (JobStatus.FAILED.value, JobStatus.CANCELLED.value)
QUEUES = ("high", "default", "low")
# The tag of the jobs the app runs for itself on a timer (the integration check, the prunes):
# the jobs list leaves them out unless asked.
SYSTEM_TAG = "system"


def _where_set(name: str, *columns: str) -> Index:
    """An index of the rows whose first column is not NULL (a partial index)."""
    where = text(f"{columns[0]} IS NOT NULL")
    return Index(name, *columns, sqlite_where=where, postgresql_where=where)


class JobLog(db.Model):
    __tablename__ = "job_logs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task: Mapped[str] = mapped_column(String(200))
    queue: Mapped[str] = mapped_column(String(20), default="default")
    status: Mapped[str] = mapped_column(String(20), default=JobStatus.PENDING.value)
    progress: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=1)
    # What the task was called with, so that a retry can call it again the same way.
    arguments: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    message: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    source_type: Mapped[str | None] = mapped_column(String(50))
    source_id: Mapped[int | None] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    batch_id: Mapped[int | None] = mapped_column(Integer)
    retry_of: Mapped[int | None] = mapped_column(ForeignKey("job_logs.id", ondelete="SET NULL"))
    worker: Mapped[str | None] = mapped_column(String(100))
    # The consumer process ("host:pid") running it, matched against heartbeats to find lost jobs.
    consumer_id: Mapped[str | None] = mapped_column(String(100))
    # Tasks that declare a unique key get at most one pending or running job per key.
    unique_key: Mapped[str | None] = mapped_column(String(200))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # One entry per failed attempt: {"attempt", "error", "at"}.
    attempt_errors: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Loaded for a whole list of jobs in one more query; rows go with their job (ON DELETE).
    tag_rows: Mapped[list[JobTag]] = relationship(
        lazy="selectin", passive_deletes=True, order_by="JobTag.tag"
    )

    # One index per filter that the pages and API offer, each ending in id for keyset paging.
    # Columns most jobs leave empty are indexed only where set: every state change of a job
    # writes a new entry into each index it is in, and a query for one value never needs the
    # empty ones.
    __table_args__ = (
        Index("ix_job_logs_status_id", "status", "id"),
        Index("ix_job_logs_task_id", "task", "id"),
        Index("ix_job_logs_queue_status", "queue", "status"),
        _where_set("ix_job_logs_source", "source_type", "source_id", "id"),
        _where_set("ix_job_logs_batch_id", "batch_id", "id"),
        _where_set("ix_job_logs_user_id", "user_id", "id"),
        _where_set("ix_job_logs_retry_of", "retry_of"),
        Index("ix_job_logs_finished_at", "finished_at"),
        Index("ix_job_logs_created_at", "created_at"),
        Index("ix_job_logs_status_consumer", "status", "consumer_id"),
        Index(
            "uq_job_logs_active_unique_key",
            "task",
            "unique_key",
            unique=True,
            sqlite_where=text("status IN ('pending', 'running') AND unique_key IS NOT NULL"),
            postgresql_where=text("status IN ('pending', 'running') AND unique_key IS NOT NULL"),
        ),
        IDS_NEVER_REUSED,
    )

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None:
            return None
        return round((self.finished_at or utcnow()).timestamp() - self.started_at.timestamp(), 3)

    @property
    def tags(self) -> list[str]:
        return [row.tag for row in self.tag_rows]

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def source(self) -> dict[str, Any] | None:
        if self.source_type is None:
            return None
        return {"type": self.source_type, "id": self.source_id}

    def to_dict(self) -> dict[str, Any]:
        """The contract's job log object."""
        return {
            "id": self.id,
            "task": self.task,
            "queue": self.queue,
            "status": self.status,
            "progress": self.progress,
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "payload": self.payload or {},
            "message": self.message,
            "error": self.error,
            "traceback": self.traceback,
            "source": self.source,
            "user_id": self.user_id,
            "batch_id": self.batch_id,
            "retry_of": self.retry_of,
            "tags": self.tags,
            "next_attempt_at": isoformat(self.next_attempt_at),
            "attempt_errors": self.attempt_errors or [],
            "cancel_requested": self.cancel_requested_at is not None,
            "worker": self.worker,
            "created_at": isoformat(self.created_at),
            "started_at": isoformat(self.started_at),
            "finished_at": isoformat(self.finished_at),
            "duration_s": self.duration_s,
        }


class DeletedRetry(db.Model):
    """A retry whose job log was deleted (flushed): the job it retried stays off the failed
    list, since it was retried, and its page says that its retry was deleted."""

    __tablename__ = "deleted_retries"

    job_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    retry_of: Mapped[int] = mapped_column(Integer)
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_deleted_retries_retry_of", "retry_of"),)


class JobTag(db.Model):
    """A label on a job (``dispatch(..., tags=[...])``, ``job.tag(...)``): one row per job and
    tag, indexed by tag for ``/jobs?tag=``; deleted with its job."""

    __tablename__ = "job_tags"

    job_id: Mapped[int] = mapped_column(
        ForeignKey("job_logs.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(100), primary_key=True)

    __table_args__ = (Index("ix_job_tags_tag_job_id", "tag", "job_id"),)


class JobBatch(db.Model):
    """Jobs dispatched together under a name; counts come from their job logs."""

    __tablename__ = "job_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    total: Mapped[int] = mapped_column(default=0)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # A tracked task's name, dispatched once with the batch id when every job has finished.
    callback_task: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_job_batches_open", "finished_at"), IDS_NEVER_REUSED)


class Consumer(db.Model):
    """A running `queue work` process and its heartbeat."""

    __tablename__ = "consumers"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)  # host:pid
    hostname: Mapped[str] = mapped_column(String(100))
    pid: Mapped[int]
    workers: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Pause(db.Model):
    """A paused queue or task type: its jobs wait until it is resumed."""

    __tablename__ = "pauses"

    kind: Mapped[str] = mapped_column(String(10), primary_key=True)  # "queue" or "task"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    paused_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    paused_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Lock(db.Model):
    """A named lock with an expiry, shared by every process through the database."""

    __tablename__ = "locks"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Alert(db.Model):
    """Something an operator should look at; at most one open alert per key."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notified: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (
        Index(
            "uq_alerts_open_key",
            "key",
            unique=True,
            sqlite_where=text("cleared_at IS NULL"),
            postgresql_where=text("cleared_at IS NULL"),
        ),
        IDS_NEVER_REUSED,
    )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "message": self.message,
            "raised_at": isoformat(self.raised_at),
            "cleared_at": isoformat(self.cleared_at),
        }


class JobStat(db.Model):
    """Finished jobs rolled up per minute and per hour, so the dashboard never scans job logs.

    One row per period, task, queue and final status: how many, and their durations as a sum,
    a maximum and a histogram (counts per bucket of ``DURATION_BOUNDS``) for percentiles.
    """

    __tablename__ = "job_stats"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period: Mapped[str] = mapped_column(String(10))  # "minute" or "hour"
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    task: Mapped[str] = mapped_column(String(200))
    queue: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    count: Mapped[int] = mapped_column(default=0)
    timed: Mapped[int] = mapped_column(default=0)  # how many had run (had a duration)
    duration_sum: Mapped[float] = mapped_column(default=0.0)
    duration_max: Mapped[float] = mapped_column(default=0.0)
    histogram: Mapped[list[int]] = mapped_column(JSON, default=list)

    __table_args__ = (
        Index("uq_job_stats_key", "period", "start", "task", "queue", "status", unique=True),
        IDS_NEVER_REUSED,
    )
