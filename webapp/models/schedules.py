"""Schedules kept in the database, and the history of their runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import IDS_NEVER_REUSED, UTCDateTime, isoformat, utcnow


class Schedule(db.Model):
    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # A registered flask command as typed after `flask`, and its options as on the command line.
    command: Mapped[str] = mapped_column(String(200))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Five cron fields, or six with seconds last ("* * * * * */30": every 30 seconds).
    cron: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    queue: Mapped[str] = mapped_column(String(20), default="default")
    active: Mapped[bool] = mapped_column(default=True)
    without_overlapping: Mapped[bool] = mapped_column(default=False)
    # Alert when no run has succeeded for this many minutes (None: never).
    success_window_minutes: Mapped[int | None]
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    runs: Mapped[list[ScheduleRun]] = relationship(
        back_populates="schedule", cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (Index("ix_schedules_due", "active", "next_run_at"), IDS_NEVER_REUSED)


# What a schedule run's status can be.
RUN_STATUSES = ("pending", "running", "succeeded", "failed", "skipped")


class ScheduleRun(db.Model):
    __tablename__ = "schedule_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # pending, running, succeeded, failed, skipped
    status: Mapped[str] = mapped_column(String(20), default="pending")
    trigger: Mapped[str] = mapped_column(String(20), default="schedule")  # schedule|manual|catch-up
    note: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    exit_code: Mapped[int | None]
    output: Mapped[str | None] = mapped_column(Text)
    job_log_id: Mapped[int | None] = mapped_column(ForeignKey("job_logs.id", ondelete="SET NULL"))

    schedule: Mapped[Schedule] = relationship(back_populates="runs")

    # Exactly once per due time, however many schedulers tick at once.
    __table_args__ = (
        UniqueConstraint("schedule_id", "due_at", name="uq_schedule_runs_schedule_due"),
        Index("ix_schedule_runs_schedule_id", "schedule_id", "id"),
        # Deleting a job log looks up what links to it (ON DELETE SET NULL), once per row.
        Index("ix_schedule_runs_job_log_id", "job_log_id"),
        IDS_NEVER_REUSED,
    )

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds(), 3)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "schedule_id": self.schedule_id,
            "due_at": isoformat(self.due_at),
            "status": self.status,
            "trigger": self.trigger,
            "note": self.note,
            "started_at": isoformat(self.started_at),
            "finished_at": isoformat(self.finished_at),
            "duration_s": self.duration_s,
            "exit_code": self.exit_code,
            "output": self.output,
            "job_log_id": self.job_log_id,
        }
