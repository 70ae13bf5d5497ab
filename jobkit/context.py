"""What a running task sees of its own job: ``current_job()``, its reports, and the app
context tasks run in."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from flask import Flask, has_app_context
from sqlalchemy import select

from jobkit.recorder import recorder
from jobkit.tags import clean_tags
from webapp.extensions import db
from webapp.models.jobs import JobLog, JobStatus

CANCEL_CHECK_SECONDS = 1.0

_current: contextvars.ContextVar[JobContext | None] = contextvars.ContextVar(
    "jobdeck_job", default=None
)
_consumer_app: Flask | None = None
_app_factory: Callable[[], Flask] | None = None
_worker_threads = threading.local()


class JobCancelled(Exception):
    """Raised inside a task when someone cancelled its job; the job ends ``cancelled``."""


class PermanentError(Exception):
    """Raise it when trying again cannot help (a 404, bad input): the job fails without retries."""


class JobTimeout(Exception):
    """Raised at a progress report once a job has run longer than its task's timeout."""


def bind_app(app: Flask) -> None:
    """Run tasks that find no app context in ``app`` (one app per consumer process)."""
    global _consumer_app
    _consumer_app = app


def bind_factory(factory: Callable[[], Flask]) -> None:
    """Build the app with ``factory`` the first time a task finds no app context and no app
    was bound (the framework never imports the app itself)."""
    global _app_factory
    _app_factory = factory


def app_context():
    """The current app context, or the consumer's app pushed for the caller."""
    global _consumer_app
    if has_app_context():
        return nullcontext()
    if _consumer_app is None:
        if _app_factory is None:
            raise RuntimeError("no app to run tasks in: call jobkit.bind_app or bind_factory")
        _consumer_app = _app_factory()
    return _consumer_app.app_context()


class task_context:  # noqa: N801 - used as a context manager, like a function
    """The app context a tracked task runs in. A consumer's worker thread keeps one context
    for its whole life (pushing and tearing down one per task cost a tenth of a no-op task's
    throughput); the task's database session is still ended after every task. A plain class
    rather than @contextmanager: it runs for every task."""

    __slots__ = ("owned",)

    def __enter__(self) -> None:
        self.owned = getattr(_worker_threads, "has_context", False)
        if not self.owned and not has_app_context():
            app_context().push()
            _worker_threads.has_context = self.owned = True

    def __exit__(self, *exc_info: object) -> None:
        # registry.registry holds the sessions of all threads: when it is empty (most no-op
        # runs), asking for this thread's own one, by app-context id, is not needed
        if self.owned and db.session.registry.registry and db.session.registry.has():
            db.session.remove()


class JobContext:
    """What a running task knows about its own job, and how it reports.

    Made for every run, so it does little until asked: the payload the job started with (its
    arguments by name) is worked out at the first report that adds to it, which most jobs never
    make. ``deadline`` is the ``time.monotonic()`` after which a report raises JobTimeout.
    """

    __slots__ = (
        "_args",
        "_kwargs",
        "_last_cancel_check",
        "_task",
        "deadline",
        "id",
        "payload",
        "timeout",
    )

    def __init__(
        self,
        id: int | None,  # noqa: A002 - the job's id, as the job log names it
        task: Any = None,
        args: tuple = (),
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.id = id
        self._task = task  # the TrackedTask: its payload_for() and timeout
        self._args = args if task is not None else None  # None once the payload has them
        self._kwargs = kwargs or {}
        self.payload: dict[str, Any] = {}
        self._last_cancel_check = now = time.monotonic()
        self.timeout: float | None = getattr(task, "timeout", None)
        self.deadline = now + self.timeout if self.timeout else None

    def report(
        self, progress: float | None = None, message: str | None = None, **payload: Any
    ) -> None:
        """Record progress (0-100), a message and payload entries; stop here if cancelled."""
        if self.id is None:
            return
        values: dict[str, Any] = {}
        if progress is not None:
            values["progress"] = max(0, min(100, int(progress)))
        if message is not None:
            values["message"] = message
        if payload:
            if self._args is not None:  # the first addition starts from the job's arguments
                self.payload = {**self._task.payload_for(self._args, self._kwargs), **self.payload}
                self._args = None
            self.payload = {**self.payload, **payload}
            values["payload"] = self.payload
        if values:
            recorder.change(db.engine, self.id, values)
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise JobTimeout(f"the job ran longer than its {self.timeout:g} s timeout")
        self._check_cancelled()

    def link(self, source_type: str, source_id: int) -> None:
        """Name the record this job works for (shown on the job and on the record's page):
        sets the job's ``source`` (the contract's name; see ``jobkit.tracking.Call``)."""
        if self.id is not None:
            recorder.change(
                db.engine, self.id, {"source_type": source_type, "source_id": source_id}
            )

    def tag(self, *tags: str) -> None:
        """Label this job (shown as chips, filtered by ``tag=``); repeated tags are ignored."""
        if self.id is not None and tags:
            recorder.add_tags(db.engine, self.id, clean_tags(tags))

    def _check_cancelled(self) -> None:
        now = time.monotonic()
        if now - self._last_cancel_check < CANCEL_CHECK_SECONDS:
            return
        self._last_cancel_check = now
        # no autoflush: writing the task's pending changes here would take the write lock
        # and hold it through whatever the task does next (a call to an outside service)
        with db.session.no_autoflush:
            row = db.session.execute(
                select(JobLog.status, JobLog.cancel_requested_at).where(JobLog.id == self.id)
            ).one_or_none()
        if row is not None and (
            row.status == JobStatus.CANCELLED or row.cancel_requested_at is not None
        ):
            raise JobCancelled(f"job {self.id} was cancelled")


def current_job() -> JobContext:
    """The job the calling code runs in; outside a tracked task, one that ignores reports."""
    return _current.get() or JobContext(id=None)
