"""What a monitoring system reads: Prometheus metrics and a health check.

Every figure comes from the roll-ups, from counts over indexed columns (pending and running
jobs, live consumers) or from one row per schedule, so a scrape costs the same at ten million
job logs as at ten.
"""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from sqlalchemy import func, select, text

from jobkit import huey
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import QUEUES, Consumer, JobLog, JobStatus
from webapp.models.schedules import Schedule, ScheduleRun
from webapp.services import consumers, metrics

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class JobdeckCollector:
    """Reads the figures afresh at every scrape."""

    def collect(self):
        now = utcnow()
        waiting = GaugeMetricFamily(
            "jobdeck_jobs_waiting", "Jobs waiting to run (pending), per queue.", labels=["queue"]
        )
        running = GaugeMetricFamily(
            "jobdeck_jobs_running", "Jobs running now, per queue.", labels=["queue"]
        )
        oldest = GaugeMetricFamily(
            "jobdeck_oldest_waiting_job_age_seconds",
            "Age of the oldest pending job, per queue (0 when none waits).",
            labels=["queue"],
        )
        counts = {(q, s): 0 for q in QUEUES for s in ("pending", "running")}
        first_created = {}
        for queue, status, count, created in db.session.execute(
            select(JobLog.queue, JobLog.status, func.count(), func.min(JobLog.created_at))
            .where(JobLog.status.in_((JobStatus.PENDING.value, JobStatus.RUNNING.value)))
            .group_by(JobLog.queue, JobLog.status)
        ):
            counts[(queue, status)] = count
            if status == JobStatus.PENDING.value:
                first_created[queue] = created
        for queue in QUEUES:
            waiting.add_metric([queue], counts[(queue, "pending")])
            running.add_metric([queue], counts[(queue, "running")])
            created = first_created.get(queue)
            oldest.add_metric([queue], max((now - created).total_seconds(), 0) if created else 0)
        yield waiting
        yield running
        yield oldest

        finished = CounterMetricFamily(
            "jobdeck_jobs_finished",
            "Jobs finished since roll-ups began, per task and final status.",
            labels=["task", "status"],
        )
        durations = HistogramMetricFamily(
            "jobdeck_job_duration_seconds",
            "How long finished jobs ran, per task.",
            labels=["task"],
        )
        per_task: dict[str, metrics.Tally] = {}
        per_status: dict[tuple[str, str], int] = {}
        for (task, _queue, status), tally in sorted(metrics.totals().items()):
            per_status[(task, status)] = per_status.get((task, status), 0) + tally.count
            per_task.setdefault(task, metrics.Tally()).add(tally)
        for (task, status), count in sorted(per_status.items()):
            finished.add_metric([task, status], count)
        for task, tally in sorted(per_task.items()):
            buckets, cumulative = [], 0
            for bound, count in zip(metrics.DURATION_BOUNDS, tally.histogram, strict=False):
                cumulative += count
                buckets.append((repr(float(bound)), cumulative))
            buckets.append(("+Inf", tally.timed))
            durations.add_metric([task], buckets, sum_value=tally.duration_sum)
        yield finished
        yield durations

        alive = GaugeMetricFamily(
            "jobdeck_consumers_alive", "Consumers that sent a heartbeat recently."
        )
        alive.add_metric([], len(consumers.live_consumers()))
        yield alive

        since_success = GaugeMetricFamily(
            "jobdeck_schedule_seconds_since_last_success",
            "Seconds since each active schedule last succeeded (absent: never).",
            labels=["schedule"],
        )
        last_success = (
            select(ScheduleRun.schedule_id, func.max(ScheduleRun.finished_at).label("at"))
            .where(ScheduleRun.status == "succeeded")
            .group_by(ScheduleRun.schedule_id)
            .subquery()
        )
        for name, at in db.session.execute(
            select(Schedule.name, last_success.c.at)
            .join(last_success, last_success.c.schedule_id == Schedule.id)
            .where(Schedule.active.is_(True))
            .order_by(Schedule.name)
        ):
            if at is not None:
                since_success.add_metric([name], max((now - at).total_seconds(), 0))
        yield since_success


def metrics_text() -> bytes:
    """The Prometheus text exposition of Jobdeck's figures."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(JobdeckCollector())
    return generate_latest(registry)


def health() -> dict[str, str]:
    """``database``, ``queue`` and ``consumers``, each ``"ok"`` or what is wrong with it."""
    result = {}
    try:
        db.session.execute(text("SELECT 1"))
        result["database"] = "ok"
    except Exception as exc:  # any failure is the answer here, reported, not raised
        db.session.rollback()
        result["database"] = f"unreachable: {type(exc).__name__}"
    try:
        huey.storage.queue_size()
        result["queue"] = "ok"
    except Exception as exc:  # any failure is the answer here, reported, not raised
        result["queue"] = f"unreachable: {type(exc).__name__}"
    if result["database"] != "ok":
        result["consumers"] = "unknown: the database is unreachable"
    elif consumers.live_consumers():
        result["consumers"] = "ok"
    else:
        last = db.session.scalar(select(func.max(Consumer.heartbeat_at)))
        window = timedelta(seconds=consumers.LOST_AFTER_SECONDS)
        result["consumers"] = (
            "no consumer has ever run"
            if last is None
            else f"no consumer beat in the last {int(window.total_seconds())} s "
            f"(last seen {last.isoformat(timespec='seconds')})"
        )
    return result
