"""What every consumer does beside running jobs: heartbeats, noticing lost jobs, finishing
batches, raising alerts, and the daily prune."""

from __future__ import annotations

import logging
import threading

from flask import Flask, current_app
from huey import crontab
from huey.signals import SIGNAL_INTERRUPTED

from jobkit import locks
from jobkit.context import app_context
from jobkit.dispatch import Call
from jobkit.prefetch import PrefetchingRedisStorage
from jobkit.queue import huey
from jobkit.recorder import recorder
from jobkit.registry import task_named
from jobkit.reserved import periodic_task
from jobkit.tracking import CONSUMER_ID
from tasks.maintenance import prune_audit_log, prune_job_logs
from webapp.extensions import db
from webapp.models.base import isoformat, utcnow
from webapp.models.jobs import JobLog, JobStatus
from webapp.services import alerts, batches, consumers, following, metrics
from webapp.services.jobs.stats import fold_job_count_changes

log = logging.getLogger(__name__)
UPKEEP_SECONDS = 10


def _history(job: JobLog, error: str) -> list[dict]:
    return [
        *(job.attempt_errors or []),
        {"attempt": job.attempts, "error": error, "at": isoformat(utcnow())},
    ]


def requeue_or_fail(job: JobLog, error: str, message: str) -> str:
    """Re-queue a job whose run was lost (if its task is safe to re-run) or fail it."""
    task = task_named(job.task)
    if task is not None and task.rerun_if_lost:
        # The lost run was an attempt, but not one of its retries: the re-run is the next
        # attempt, with the retries the lost run had left (one more attempt in all).
        retries = max(job.max_attempts - job.attempts, 0)
        lost_runs = max(job.max_attempts - task.policy.max_attempts(), 0) + 1
        claimed = consumers.claim_lost(
            job,
            {
                "status": JobStatus.PENDING.value,
                "consumer_id": None,
                "worker": None,
                "error": error,
                "message": f"{message}; queued again.",
                "attempt_errors": _history(job, error),
                "max_attempts": job.max_attempts + 1,
            },
        )
        if claimed:
            arguments = job.arguments or {}
            call = Call(tuple(arguments.get("args", [])), arguments.get("kwargs", {}))
            huey.enqueue(task.huey_call(job.id, call, retries, job.queue, earlier_runs=lost_runs))
            return "requeued"
        return "gone"
    claimed = consumers.claim_lost(
        job,
        {
            "status": JobStatus.FAILED.value,
            "finished_at": utcnow(),
            "error": error,
            "message": f"{message}; failed (its task is not marked safe to re-run).",
            "attempt_errors": _history(job, error),
        },
    )
    return "failed" if claimed else "gone"


def handle_lost_jobs() -> dict[str, int]:
    """Every running job whose consumer stopped beating: re-queued or failed."""
    outcome = {"requeued": 0, "failed": 0, "gone": 0}
    for job in consumers.lost_jobs():
        error = f"WorkerLost: consumer {job.consumer_id or 'unknown'} stopped answering"
        outcome[requeue_or_fail(job, error, f"Its consumer {job.consumer_id} was lost")] += 1
    return outcome


def return_taken_of_lost_consumers() -> dict[str, int]:
    """The tasks a lost consumer had taken from Redis (jobkit.prefetch) and whose jobs still
    wait for them: back in the queue, or failed when the task is not safe to re-run (the job
    may have started: its row is written a moment later). Untracked tasks are dropped, as Huey
    drops a killed consumer's running task; a job waiting in the schedule is left to it."""
    outcome = {"requeued": 0, "failed": 0}
    storage = huey.storage
    if not isinstance(storage, PrefetchingRedisStorage):
        return outcome
    lost = consumers.lost_among(storage.takers())
    if not lost:
        return outcome
    scheduled = {huey.deserialize_task(data).id for data in storage.scheduled_items()}
    for consumer_id in lost:
        back = []
        for member, score in storage.taken_by(consumer_id):
            task_id = huey.deserialize_task(member[8:]).id
            job = db.session.get(JobLog, int(task_id)) if str(task_id).isdigit() else None
            if job is None or job.status != JobStatus.PENDING or task_id in scheduled:
                continue
            task = task_named(job.task)
            if task is not None and task.rerun_if_lost:
                back.append((member, score))
                outcome["requeued"] += 1
                continue
            error = f"WorkerLost: consumer {consumer_id} stopped answering"
            failed = {
                "status": JobStatus.FAILED.value,
                "finished_at": utcnow(),
                "error": error,
                "message": f"Its consumer {consumer_id} was lost with it taken; failed (its "
                "task is not marked safe to re-run).",
                "attempt_errors": _history(job, error),
            }
            outcome["failed"] += consumers.claim_taken(job.id, failed)
        storage.put_back(consumer_id, back)
    return outcome


def finish_batches() -> None:
    for batch in batches.finish_completed_batches():
        task = task_named(batch.callback_task) if batch.callback_task else None
        if task is not None:
            task.dispatch(batch.id, user_id=batch.user_id, source=("batch", batch.id))


def run_upkeep() -> None:
    """One round of the shared sweeps; only one consumer at a time does them."""
    if not locks.acquire("upkeep", CONSUMER_ID, ttl_seconds=UPKEEP_SECONDS * 2):
        return
    try:
        # first: a lost running job that handle_lost_jobs queues again is pending afterwards
        taken = return_taken_of_lost_consumers()
        if taken["requeued"] or taken["failed"]:
            log.warning("jobs taken by lost consumers: %s", taken)
        outcome = handle_lost_jobs()
        if outcome["requeued"] or outcome["failed"]:
            log.warning("lost jobs: %s", outcome)
        finish_batches()
        following.settle_records_of_ended_jobs()
        metrics.roll_up()
        fold_job_count_changes()
        alerts.check_failure_rate()
        alerts.check_schedules()
        locks.delete_expired()
    finally:
        locks.release("upkeep", CONSUMER_ID)


class Upkeep(threading.Thread):
    """Beats every few seconds and runs the sweeps every UPKEEP_SECONDS, until stopped."""

    def __init__(self, app: Flask, workers: int) -> None:
        super().__init__(name="jobdeck-upkeep", daemon=True)
        self.app = app
        self.workers = workers
        self.stop_event = threading.Event()

    def run(self) -> None:
        import os

        with self.app.app_context():
            consumers.register(CONSUMER_ID, os.getpid(), self.workers)
        beats = 0
        while not self.stop_event.wait(consumers.HEARTBEAT_SECONDS):
            with self.app.app_context():
                try:
                    consumers.beat(CONSUMER_ID)
                    beats += 1
                    if beats % (UPKEEP_SECONDS // consumers.HEARTBEAT_SECONDS) == 1:
                        run_upkeep()
                except Exception:  # logged; one failed round must not end the heartbeat
                    log.exception("upkeep failed; trying again at the next beat")

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=10)
        with self.app.app_context():
            consumers.stopped(CONSUMER_ID)


@huey.signal(SIGNAL_INTERRUPTED)
def interrupted(signal, task, *args, **kwargs) -> None:
    """A consumer stopping at once (SIGTERM) re-queues or fails the jobs it was running."""
    tracked = task_named(task.name)
    if tracked is None or not str(task.id).isdigit():
        return
    with app_context():
        recorder.detach(int(task.id))
        job = db.session.get(JobLog, int(task.id))
        if job is not None and job.status == JobStatus.RUNNING:
            requeue_or_fail(job, "Interrupted: the consumer was stopped", "Interrupted")


@periodic_task(crontab(hour="3", minute="17"))
def daily_prune() -> None:
    """Once a day, prune finished job logs older than JOB_LOG_RETENTION_DAYS and audit rows
    older than AUDIT_RETENTION_DAYS."""
    with app_context():
        if locks.first_this_minute("daily_prune", CONSUMER_ID):
            # high: on the reserved worker when the others are busy (see jobkit.reserved)
            prune_job_logs.dispatch(current_app.config["JOB_LOG_RETENTION_DAYS"], queue="high")
            prune_audit_log.dispatch(current_app.config["AUDIT_RETENTION_DAYS"], queue="high")
