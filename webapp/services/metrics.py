"""What the dashboard measures: throughput, failure rates and durations per task.

Finished jobs are rolled up into per-minute and per-hour rows (``JobStat``) by the consumers'
upkeep, for minutes that closed at least ``SETTLE_SECONDS`` ago. A reading combines those rows
with the few job logs finished since the last rolled-up minute (an index range on finished_at),
so it is exact and costs the same at a thousand job logs or a million.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Integer, case, cast, delete, func, select
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import FINISHED_STATUSES, JobLog, JobStat, JobStatus
from webapp.models.schedules import Schedule, ScheduleRun
from webapp.services.jobs import duration_seconds
from webapp.services.schedules import last_run

# Upper bounds (seconds) of the duration histogram's buckets; one more bucket holds the rest.
DURATION_BOUNDS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600,
)  # fmt: skip
# A minute is rolled up once it closed this long ago: time for consumers' buffered writes.
SETTLE_SECONDS = 30
# The first roll-up (or one after a long stop) goes back this far, at most.
BACKFILL = timedelta(hours=25)
MINUTE_ROWS_KEPT = timedelta(hours=48)
HOUR_ROWS_KEPT = timedelta(days=90)
# The start of the one "total" row per task, queue and status: every rolled-up job so far.
TOTAL_START = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Tally:
    """Finished jobs of one kind: how many and how long they took."""

    count: int = 0
    timed: int = 0
    duration_sum: float = 0.0
    duration_max: float = 0.0
    histogram: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BOUNDS) + 1))

    def add(self, other: Any) -> None:
        """Add another tally, or a JobStat row (anything with the same attributes)."""
        self.count += other.count
        self.timed += other.timed
        self.duration_sum += other.duration_sum
        self.duration_max = max(self.duration_max, other.duration_max)
        for index, value in enumerate(other.histogram or []):
            self.histogram[index] += value

    @property
    def average(self) -> float | None:
        return round(self.duration_sum / self.timed, 3) if self.timed else None

    def percentile(self, share: float) -> float | None:
        """The duration below which ``share`` of the timed jobs fall, interpolated within its
        histogram bucket (so exact to the bucket) and never above the longest job."""
        if not self.timed:
            return None
        rank = share * self.timed
        seen = 0
        for index, value in enumerate(self.histogram):
            if value and seen + value >= rank:
                low = DURATION_BOUNDS[index - 1] if index else 0.0
                high = DURATION_BOUNDS[index] if index < len(DURATION_BOUNDS) else self.duration_max
                estimate = low + (high - low) * (rank - seen) / value
                return round(min(estimate, self.duration_max), 3)
            seen += value
        return round(self.duration_max, 3)


Key = tuple[datetime, str, str, str]  # period start, task, queue, status


def _epoch(column):
    if db.engine.dialect.name == "sqlite":
        return cast(func.strftime("%s", column), Integer)
    return cast(func.floor(func.extract("epoch", column)), Integer)


def _aggregate_job_logs(start: datetime, end: datetime | None, seconds: int) -> dict[Key, Tally]:
    """Finished job logs in [start, end) grouped per period of ``seconds``, in the database:
    one row per period, task, queue, status and histogram bucket."""
    duration = duration_seconds()
    bucket = case(
        (JobLog.started_at.is_(None), -1),
        *[(duration < bound, index) for index, bound in enumerate(DURATION_BOUNDS)],
        else_=len(DURATION_BOUNDS),
    ).label("bucket")
    # floor division: "/" is true division in SQLAlchemy 2 and would group by the second
    period = (_epoch(JobLog.finished_at) // seconds).label("period")
    stmt = select(
        period,
        JobLog.task,
        JobLog.queue,
        JobLog.status,
        bucket,
        func.count(),
        func.sum(duration),
        func.max(duration),
    ).where(JobLog.finished_at >= start)  # no status condition: SQLite would pick its index
    if end is not None:
        stmt = stmt.where(JobLog.finished_at < end)
    tallies: dict[Key, Tally] = {}
    for row in db.session.execute(
        stmt.group_by(period, JobLog.task, JobLog.queue, JobLog.status, bucket)
    ):
        if row.status not in FINISHED_STATUSES:  # a re-queued job keeps no finished_at, but
            continue  # be sure: only final states count
        moment = datetime.fromtimestamp(int(row[0]) * seconds, UTC)
        tally = tallies.setdefault((moment, row.task, row.queue, row.status), Tally())
        count = row[5]
        tally.count += count
        if row.bucket >= 0:
            tally.timed += count
            tally.duration_sum += max(float(row[6] or 0), 0.0)
            tally.duration_max = max(tally.duration_max, float(row[7] or 0))
            tally.histogram[row.bucket] += count
    return tallies


def _floor(moment: datetime, seconds: int) -> datetime:
    return datetime.fromtimestamp(int(moment.timestamp()) // seconds * seconds, UTC)


def rolled_up_until() -> datetime | None:
    """The end of the last rolled-up minute: job logs finished before it are in JobStat."""
    last = db.session.scalar(select(func.max(JobStat.start)).where(JobStat.period == "minute"))
    return None if last is None else last + timedelta(minutes=1)


def roll_up(now: datetime | None = None) -> int:
    """Roll up every minute that closed ``SETTLE_SECONDS`` ago and is not rolled up yet, into
    minute rows and into the hour rows they belong to; returns how many minute rows it wrote.
    Run by one consumer at a time (the upkeep lock); a unique key guards against two anyway."""
    now = now or utcnow()
    end = _floor(now - timedelta(seconds=SETTLE_SECONDS), 60)
    start = max(rolled_up_until() or end - BACKFILL, end - BACKFILL)
    if start >= end:
        return 0
    minutes = _aggregate_job_logs(start, end, 60)
    hours: dict[Key, Tally] = {}
    for (moment, *rest), tally in minutes.items():
        hours.setdefault((_floor(moment, 3600), *rest), Tally()).add(tally)
    totals: dict[Key, Tally] = {}
    for (_moment, *rest), tally in minutes.items():
        totals.setdefault((TOTAL_START, *rest), Tally()).add(tally)
    try:
        db.session.add_all(_stat("minute", key, tally) for key, tally in minutes.items())
        _merge_into("hour", hours, _floor(start, 3600))
        _merge_into("total", totals, TOTAL_START)
        db.session.execute(
            delete(JobStat).where(
                JobStat.period == "minute", JobStat.start < now - MINUTE_ROWS_KEPT
            )
        )
        db.session.execute(
            delete(JobStat).where(JobStat.period == "hour", JobStat.start < now - HOUR_ROWS_KEPT)
        )
        db.session.commit()
    except IntegrityError:  # another process rolled the same minutes up first
        db.session.rollback()
        return 0
    return len(minutes)


def _merge_into(period: str, tallies: dict[Key, Tally], since: datetime) -> None:
    """Add ``tallies`` to the ``period`` rows starting at ``since`` or later, creating the
    rows that do not exist yet."""
    existing = {
        (row.start, row.task, row.queue, row.status): row
        for row in db.session.scalars(
            select(JobStat).where(JobStat.period == period, JobStat.start >= since)
        )
    }
    for key, tally in tallies.items():
        row = existing.get(key)
        if row is None:
            db.session.add(_stat(period, key, tally))
            continue
        merged = Tally(
            row.count, row.timed, row.duration_sum, row.duration_max, list(row.histogram)
        )
        merged.add(tally)
        row.count, row.timed, row.histogram = merged.count, merged.timed, merged.histogram
        row.duration_sum, row.duration_max = merged.duration_sum, merged.duration_max


def totals() -> dict[tuple[str, str, str], Tally]:
    """Every job finished since roll-ups began, per task, queue and final status: the running
    totals the roll-ups keep, plus the job logs finished after the last rolled-up minute (an
    index range on ``finished_at``), so reading it never scans the job logs."""
    result: dict[tuple[str, str, str], Tally] = {}
    for row in db.session.scalars(select(JobStat).where(JobStat.period == "total")):
        result.setdefault((row.task, row.queue, row.status), Tally()).add(row)
    until = rolled_up_until()
    tail_start = until if until is not None else utcnow() - BACKFILL
    for (_moment, *key), tally in _aggregate_job_logs(tail_start, None, 3600).items():
        result.setdefault(tuple(key), Tally()).add(tally)
    return result


def _stat(period: str, key: Key, tally: Tally) -> JobStat:
    moment, task, queue, status = key
    return JobStat(
        period=period,
        start=moment,
        task=task,
        queue=queue,
        status=status,
        count=tally.count,
        timed=tally.timed,
        duration_sum=tally.duration_sum,
        duration_max=tally.duration_max,
        histogram=tally.histogram,
    )


def finished_since(start: datetime, period: str) -> dict[Key, Tally]:
    """Finished jobs from ``start`` on, per ``period`` ("minute" or "hour"): the rolled-up rows
    and, after the last rolled-up minute, the job logs themselves."""
    seconds = 60 if period == "minute" else 3600
    until = rolled_up_until()
    tallies: dict[Key, Tally] = {}
    if until is not None and until > start:
        columns = (
            JobStat.start,
            JobStat.task,
            JobStat.queue,
            JobStat.status,
            JobStat.count,
            JobStat.timed,
            JobStat.duration_sum,
            JobStat.duration_max,
            JobStat.histogram,
        )  # plain rows: a day holds thousands, and ORM objects would cost more than the query
        for row in db.session.execute(
            select(*columns).where(JobStat.period == period, JobStat.start >= start)
        ):
            tallies.setdefault((row.start, row.task, row.queue, row.status), Tally()).add(row)
    tail_start = start if until is None else max(start, until)
    for key, tally in _aggregate_job_logs(tail_start, None, seconds).items():
        tallies.setdefault(key, Tally()).add(tally)
    return tallies


def throughput(hours: int, bucket_minutes: int) -> list[dict[str, Any]]:
    """Completed and failed jobs per bucket over the last ``hours``, oldest first, every bucket
    present."""
    size = bucket_minutes * 60
    now = utcnow()
    end = int(now.timestamp()) // size * size + size
    start = end - hours * 3600
    period = "minute" if size < 3600 else "hour"
    tallies = finished_since(datetime.fromtimestamp(start, UTC), period)
    return _buckets(tallies, start, end, size)


def _buckets(tallies: dict[Key, Tally], start: int, end: int, size: int) -> list[dict[str, Any]]:
    counts: dict[int, dict[str, int]] = {}
    for (moment, _task, _queue, status), tally in tallies.items():
        slot = int(moment.timestamp()) // size * size
        bucket = counts.setdefault(slot, {})
        bucket[status] = bucket.get(status, 0) + tally.count
    return [
        {
            "at": datetime.fromtimestamp(moment, UTC),
            "completed": counts.get(moment, {}).get(JobStatus.COMPLETED.value, 0),
            "failed": counts.get(moment, {}).get(JobStatus.FAILED.value, 0),
        }
        for moment in range(start, end, size)
    ]


def _totals(tallies: Iterable[tuple[Key, Tally]]) -> dict[str, Any]:
    by_status = {status: 0 for status in FINISHED_STATUSES}
    for (_moment, _task, _queue, status), tally in tallies:
        by_status[status] = by_status.get(status, 0) + tally.count
    ran = by_status[JobStatus.COMPLETED.value] + by_status[JobStatus.FAILED.value]
    rate = round(100 * by_status[JobStatus.FAILED.value] / ran, 1) if ran else None
    return {**by_status, "failure_rate": rate}


def task_metrics(tallies: dict[Key, Tally]) -> list[dict[str, Any]]:
    """Per task: runs by final status, failure rate (% of runs that completed or failed),
    average, p95 and longest duration of its completed runs; busiest first."""
    per_task: dict[str, dict[str, Tally]] = {}
    for (_moment, task, _queue, status), tally in tallies.items():
        per_task.setdefault(task, {}).setdefault(status, Tally()).add(tally)
    rows = []
    for task, by_status in per_task.items():
        done = by_status.get(JobStatus.COMPLETED.value, Tally())
        failed = by_status.get(JobStatus.FAILED.value, Tally())
        cancelled = by_status.get(JobStatus.CANCELLED.value, Tally())
        ran = done.count + failed.count
        rows.append(
            {
                "task": task,
                "runs": ran + cancelled.count,
                "completed": done.count,
                "failed": failed.count,
                "cancelled": cancelled.count,
                "failure_rate": round(100 * failed.count / ran, 1) if ran else None,
                "avg_duration_s": done.average,
                "p95_duration_s": done.percentile(0.95),
                "max_duration_s": round(done.duration_max, 3) if done.timed else None,
            }
        )
    return sorted(rows, key=lambda row: (-row["runs"], row["task"]))


def dashboard(now: datetime | None = None) -> dict[str, Any]:
    """Everything the dashboard shows about finished work, from two small reads: the minute
    rows of the last hour and the hour rows of the last day (plus the not yet rolled-up tail)."""
    now = now or utcnow()
    minute_end = int(now.timestamp()) // 60 * 60 + 60
    hour_end = int(now.timestamp()) // 3600 * 3600 + 3600
    last_hour = finished_since(datetime.fromtimestamp(minute_end - 3600, UTC), "minute")
    last_day = finished_since(datetime.fromtimestamp(hour_end - 86400, UTC), "hour")
    tasks = task_metrics(last_day)
    timed = [row for row in tasks if row["p95_duration_s"] is not None]
    failing = [row for row in tasks if row["failed"]]
    return {
        "last_hour": _buckets(last_hour, minute_end - 3600, minute_end, 60),
        "last_day": _buckets(last_day, hour_end - 86400, hour_end, 3600),
        "hour_totals": _totals(last_hour.items()),
        "day_totals": _totals(last_day.items()),
        "tasks": tasks,
        "slowest": sorted(timed, key=lambda row: -row["p95_duration_s"])[:5],
        "most_failing": sorted(failing, key=lambda row: (-row["failed"], row["task"]))[:5],
        "waiting_times": waiting_times(now),
    }


# Enough recent first attempts for a steady p95, read through the finished_at index.
WAIT_SAMPLE = 20_000


def waiting_times(now: datetime | None = None) -> dict[str, Any]:
    """How long jobs waited from dispatch (or the time a delayed one was due) to start, over
    first attempts that finished in the
    last hour (the newest ``WAIT_SAMPLE`` of them): p50, p95 and how many were measured. A
    retried job is left out: its start is its last attempt's, after its retry delays."""
    now = now or utcnow()
    # A job dispatched with a delay waits from when it was due (its next_attempt_at).
    due = func.coalesce(JobLog.next_attempt_at, JobLog.created_at)
    rows = db.session.execute(
        select(_microseconds_between(due, JobLog.started_at))
        .where(JobLog.finished_at >= now - timedelta(hours=1), JobLog.attempts <= 1)
        .order_by(JobLog.finished_at.desc())
        .limit(WAIT_SAMPLE)
    )
    waits = sorted(max(wait / 1_000_000, 0.0) for (wait,) in rows if wait is not None)
    if not waits:
        return {"p50_s": None, "p95_s": None, "count": 0}

    def share(q: float) -> float:
        return round(waits[min(len(waits) - 1, int(q * len(waits)))], 3)

    return {"p50_s": share(0.5), "p95_s": share(0.95), "count": len(waits)}


def _microseconds_between(start, end):
    """``end - start`` in whole microseconds, computed by the database: a busy hour holds
    tens of thousands of jobs, and reading their times as datetimes cost more than the rest
    of the dashboard. SQLite's date functions round to milliseconds, so there it is read off
    the stored text (whole seconds, then the six digits of the fraction)."""
    if db.engine.dialect.name == "sqlite":

        def seconds(moment):
            return cast(func.strftime("%s", func.substr(moment, 1, 19)), BigInteger)

        def fraction(moment):
            return cast(func.substr(moment, 21, 6), BigInteger)

        return (seconds(end) - seconds(start)) * 1_000_000 + fraction(end) - fraction(start)
    return cast(func.extract("epoch", end - start) * 1_000_000, BigInteger)


def schedules_due_next(limit: int = 5) -> list[tuple[Schedule, ScheduleRun | None]]:
    """The active schedules that run soonest (the index the scheduler uses), each with its
    last run."""
    due = db.session.scalars(
        select(Schedule)
        .where(Schedule.active.is_(True), Schedule.next_run_at.is_not(None))
        .order_by(Schedule.next_run_at)
        .limit(limit)
    )
    return [(schedule, last_run(schedule.id)) for schedule in due]
