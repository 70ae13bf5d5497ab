"""Every write of job state goes through the recorder.

New job rows are written at once, in one transaction for any number of jobs, because they must be
durable before Huey can hand the task to a worker. State changes reported by workers (running,
progress, finished) are, in a consumer, gathered for a few milliseconds and written together: a
worker appends an event (``jobkit.store``) to a list, and the batch goes to the consumer's writer
process (``jobkit.writer``) where it has one, which coalesces each job's events into one row update
and writes all of them in one transaction. A batch is written once ``interval`` has passed since
its first change, or as soon as no change has come for a tenth of that (the workers have gone
quiet: waiting longer would only delay what people see). Outside a consumer (web requests,
commands, immediate mode) every change is written through at once.
"""

from __future__ import annotations

import atexit
import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from jobkit.inserts import insert_job_rows
from jobkit.redaction import redact_job_values, redact_text, redact_value
from jobkit.store import COMPLETED, SET, STARTED, event_values, write_changes, write_events
from jobkit.writer import WriterGone, WriterProcess, can_write_for
from webapp.models.base import utcnow
from webapp.models.jobs import JobLog, JobStatus, JobTag

log = logging.getLogger(__name__)
table = JobLog.__table__
PENDING = JobStatus.PENDING.value
# What SQLAlchemy's JSON type writes (json.dumps), without its per-call keyword handling.
_encode_json = json.JSONEncoder().encode


class JobRecorder:
    """Writes job-log rows and their state changes, directly or in timed batches."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changes: list[tuple] = []  # events (jobkit.store), in the order they came
        self._engine: Engine | None = None
        self._interval = 0.0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._detached: set[int] = set()
        self._flushing = threading.Lock()  # one batch at a time, so batches land in order
        self._writer: WriterProcess | None = None

    @property
    def batching(self) -> bool:
        return self._thread is not None

    @property
    def engine(self) -> Engine | None:
        """The engine a batching recorder writes to; None when it writes through."""
        return self._engine if self._thread is not None else None

    def start_batching(self, engine: Engine, interval: float, writer_process: bool = False) -> None:
        """Buffer state changes and write them every ``interval`` seconds (for consumers); with
        ``writer_process``, a process of its own writes them (see ``jobkit.writer``)."""
        if interval <= 0 or self._thread is not None:
            return
        self._engine = engine
        self._interval = interval
        if writer_process and can_write_for(engine):
            self._writer = WriterProcess(engine)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="jobdeck-recorder", daemon=True)
        self._thread.start()
        atexit.register(self.stop_batching)

    def stop_batching(self) -> None:
        """Write what is buffered and go back to writing through."""
        thread = self._thread
        if thread is None:
            return
        self._stop.set()
        thread.join(timeout=10)
        self._thread = None
        self.flush()
        if self._writer is not None:
            self._writer.stop()
            self._writer = None

    def _run(self) -> None:
        tick = self._interval / 10
        waited, seen = 0.0, 0
        while not self._stop.wait(tick):
            waited += tick
            buffered = len(self._changes)
            if not buffered:
                waited = 0.0
            elif buffered == seen or waited + tick > self._interval:
                try:
                    self.flush()
                except Exception:  # keep the writer alive; the changes were put back
                    log.exception("could not write job states, will try again")
                    time.sleep(min(1.0, self._interval * 10))
                waited, buffered = 0.0, 0
            seen = buffered

    # -- new rows ---------------------------------------------------------------------------

    def insert_jobs(
        self,
        engine: Engine,
        rows: list[dict[str, Any]],
        tags: list[Sequence[str]] | None = None,
    ) -> list[int]:
        """Insert pending job rows (as ``pending_row`` makes them), and each row's ``tags``, in
        one transaction; return the jobs' ids in order."""
        return insert_job_rows(engine, rows, tags)

    def add_tags(self, engine: Engine, job_id: int, tags: Sequence[str]) -> None:
        """Label a job; tags it already has are left as they are."""
        with engine.begin() as conn:
            have = set(conn.execute(select(JobTag.tag).where(JobTag.job_id == job_id)).scalars())
            new = [{"job_id": job_id, "tag": tag} for tag in dict.fromkeys(tags) if tag not in have]
            if new:
                conn.execute(insert(JobTag.__table__), new)

    def attempt_errors(self, engine: Engine, job_id: int) -> list[dict[str, Any]]:
        """The failed attempts recorded so far, buffered or written (read when one fails)."""
        with self._lock:
            buffered = next(
                (
                    event[2]["attempt_errors"]
                    for event in reversed(self._changes)
                    if event[0] == SET and event[1] == job_id and "attempt_errors" in event[2]
                ),
                None,
            )
        if buffered is not None:
            return list(buffered)
        with self._flushing:  # a batch being written now may hold the latest history
            pass
        with engine.connect() as conn:
            value = conn.execute(
                select(table.c.attempt_errors).where(table.c.id == job_id)
            ).scalar_one_or_none()
        return list(value or [])

    # -- cancelling ---------------------------------------------------------------------------

    def cancel_pending(self, engine: Engine, job_id: int, message: str) -> bool:
        """Mark a job cancelled if it is still pending; False when it was not."""
        now = utcnow()
        with engine.begin() as conn:
            result = conn.execute(
                update(table)
                .where(table.c.id == job_id, table.c.status == JobStatus.PENDING.value)
                .values(
                    status=JobStatus.CANCELLED.value,
                    finished_at=now,
                    cancel_requested_at=now,
                    message=message,
                )
            )
        return bool(result.rowcount)

    def request_cancel(self, engine: Engine, job_id: int, message: str) -> bool:
        """Ask a running job to stop at its next report; False when it is not running."""
        with engine.begin() as conn:
            result = conn.execute(
                update(table)
                .where(table.c.id == job_id, table.c.status == JobStatus.RUNNING.value)
                .values(cancel_requested_at=utcnow(), message=message)
            )
        return bool(result.rowcount)

    # -- state changes ------------------------------------------------------------------------

    def detach(self, job_id: int) -> None:
        """Write what is buffered for this job, then ignore whatever its (interrupted) run still
        reports: the job has been handed on."""
        self.flush()
        with self._lock:
            self._detached.add(job_id)

    def change(self, engine: Engine | None, job_id: int, values: Mapping[str, Any]) -> None:
        """Record new column values for one job, secrets redacted; later values win over
        earlier ones. A consumer's recorder knows its engine (``engine`` may then be None)."""
        if job_id in self._detached:
            return
        values = redact_job_values(values)  # secrets never reach the database, index or export
        self._record(engine, (SET, job_id, values))

    def started(
        self, engine: Engine | None, job_id: int, attempt: int, worker: str, consumer_id: str
    ) -> None:
        """A run of the job began now: running, its attempt number, who runs it (and, for a
        retry, the previous attempt's end and next-attempt times cleared)."""
        if job_id not in self._detached:
            self._record(engine, (STARTED, job_id, attempt, time.time(), worker, consumer_id))

    def completed(self, engine: Engine | None, job_id: int, message: str | None = None) -> None:
        """The job's run ended well now: completed, progress 100, and ``message`` if given."""
        if job_id not in self._detached:
            if message:
                message = redact_text(message)
            self._record(engine, (COMPLETED, job_id, time.time(), message))

    def _record(self, engine: Engine | None, event: tuple) -> None:
        if self._thread is None:
            write_changes(engine or self._engine, {event[1]: event_values(event)})
            return
        with self._lock:
            self._changes.append(event)

    def flush(self) -> None:
        """Write every buffered change now, in one transaction."""
        with self._flushing:
            with self._lock:
                events, self._changes = self._changes, []
            if not events or self._engine is None:
                return
            try:
                self._write_batch(events)
            except Exception:  # put the changes back for the next flush, then re-raise
                with self._lock:
                    self._changes[:0] = events
                raise

    def _write_batch(self, events: list[tuple]) -> None:
        writer = self._writer
        if writer is not None:
            try:
                writer.write(events)
                return
            except WriterGone as exc:
                log.warning("the job writer process is gone (%s); writing in this one", exc)
                self._writer = None
                writer.abandon()
        write_events(self._engine, events)


recorder = JobRecorder()


def pending_row(
    task: str,
    queue: str,
    arguments: dict[str, Any],
    payload: dict[str, Any],
    max_attempts: int,
    **fields: Any,
) -> dict[str, Any]:
    """A new job-log row in the ``pending`` state, ready for ``insert_jobs``: its arguments
    and payload with their secrets redacted, as JSON text (TypeError when they are not JSON
    values)."""
    try:
        encoded = _encode_json(redact_value(arguments)), _encode_json(redact_value(payload))
    except TypeError as exc:
        raise TypeError(f"{task}: arguments must be JSON values ({exc})") from None
    row = {
        "task": task,
        "queue": queue,
        "status": PENDING,
        "progress": 0,
        "attempts": 0,
        "max_attempts": max_attempts,
        "arguments": encoded[0],
        "payload": encoded[1],
        "created_at": utcnow(),
        "source_type": None,
        "source_id": None,
        "user_id": None,
        "batch_id": None,
        "retry_of": None,
        "unique_key": None,
    }
    row.update(fields)
    return row
