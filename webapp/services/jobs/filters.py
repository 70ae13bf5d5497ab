"""The filter objects of the job lists: /jobs (``JobFilters``) and /failed (``FailedFilters``),
each the one place that reads, checks and applies what its list shows, for the page, its bulk
actions, the API and the CLI alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import aliased

from webapp.exceptions import BadRequest, Conflict, NotFound
from webapp.models.jobs import (
    QUEUES,
    STATUSES,
    SYSTEM_TAG,
    DeletedRetry,
    JobLog,
    JobStatus,
    JobTag,
)
from webapp.services.jobs.search import search_clause
from webapp.services.listing import (
    ListFilter,
    ListQueryError,
    choice,
    flag,
    moment,
    page_number,
    record_id,
    text,
)
from webapp.services.ownership import Viewer, visible_jobs


class JobError(Conflict):
    """A job that is not in a state that allows this (a finished job cannot be cancelled)."""


class JobNotFound(NotFound, JobError):
    """No job log with this id."""


class JobQueryError(ListQueryError, BadRequest, JobError):
    """A filter or limit that cannot be used: a status or queue that does not exist."""


# What /jobs may be sorted by (newest first unless asked otherwise). The created order is the
# id order (ids only grow), paged by keyset; the others by page number.
JOB_SORTS = ("created", "duration", "status")


@dataclass(frozen=True)
class JobFilters(ListFilter):
    """The filters offered by /jobs, the API and ``jobs list``; None means any.

    ``source_type``/``source_id`` are the contract's names for the record a job works for
    (the pages call it "record"; ``JobLog.source_*`` and the API keep the contract's word)."""

    LIST = "jobs"
    status: str | None = None
    task: str | None = None
    queue: str | None = None
    source_type: str | None = None
    source_id: int | None = None
    batch_id: int | None = None
    user_id: int | None = None
    # Words in the arguments, payload or error (full-text: FTS5 or a trigram index).
    q: str | None = None
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
    tag: str | None = None
    # The scheduler's own jobs (tagged "system": the integration check, the prunes) are left
    # out unless asked for, or unless the filter names a task or tag (that asks for them).
    system: bool = False
    order: str | None = None  # "oldest": oldest first (the default order, reversed)
    sort: str = "-created"
    cursor: int | None = None
    page: int = 1
    # Who is looking: only the jobs they may see (None: every job, for commands and tasks).
    viewer: Viewer | None = None

    PARSERS = {
        "status": choice(STATUSES),
        "task": text(),
        "queue": choice(QUEUES),
        "source_type": text(50),
        "source_id": record_id,
        "batch_id": record_id,
        "q": text(),
        "since": moment,
        "until": moment,
        "tag": text(),
        "system": flag,
        "order": choice(["oldest", "newest"]),
        "sort": text(40),
        "cursor": record_id,
        "page": page_number,
    }
    SORTS = dict.fromkeys(JOB_SORTS)
    # As the page labels the fields (a problem names the field so).
    LABELS = {
        "status": "Status",
        "task": "Task",
        "queue": "Queue",
        "source_type": "Record type",
        "source_id": "Record id",
        "batch_id": "Batch",
        "q": "Search",
        "since": "Created after",
        "until": "Created before",
        "tag": "Tag",
        "system": "Show system jobs",
        "order": "Order",
    }
    POSITION = ("sort", "cursor", "page", "order")

    def check(self) -> None:
        """JobQueryError for a status, queue or sort that cannot exist."""
        if self.status and self.status not in STATUSES:
            raise JobQueryError(f"unknown status {self.status!r}; use one of {', '.join(STATUSES)}")
        if self.queue and self.queue not in QUEUES:
            raise JobQueryError(f"unknown queue {self.queue!r}; use one of {', '.join(QUEUES)}")
        try:
            super().check()
        except ListQueryError as exc:
            raise JobQueryError(str(exc)) from None

    @property
    def oldest_first(self) -> bool:
        return self.order == "oldest" or self.sort == "created"

    @property
    def keyset(self) -> bool:
        """Whether pages follow each other by id (the created order), not by offset."""
        return self.sort.lstrip("-") == "created"

    @property
    def shows_system_jobs(self) -> bool:
        return self.system or bool(self.task or self.tag)

    def as_query(self) -> dict:
        query = super().as_query()
        if query.get("order") == "newest":
            query.pop("order")
        return query

    def apply(self, stmt: Select) -> Select:
        """``stmt`` narrowed to the jobs this filter shows (not ordered)."""
        if self.viewer is not None:
            stmt = stmt.where(visible_jobs(self.viewer))
        for name in ("status", "task", "queue", "source_type", "source_id", "batch_id"):
            value = getattr(self, name)
            if value not in (None, ""):
                stmt = stmt.where(getattr(JobLog, name) == value)
        if self.user_id is not None:
            stmt = stmt.where(JobLog.user_id == self.user_id)
        if self.q:
            stmt = stmt.where(search_clause(self.q))
        if self.since:
            stmt = stmt.where(JobLog.created_at >= self.since)
        if self.until:
            stmt = stmt.where(JobLog.created_at < self.until)
        if self.tag:
            stmt = stmt.where(JobLog.id.in_(select(JobTag.job_id).where(JobTag.tag == self.tag)))
        if not self.shows_system_jobs:
            system = select(JobTag.job_id).where(JobTag.tag == SYSTEM_TAG)
            stmt = stmt.where(JobLog.id.not_in(system))
        return stmt


@dataclass(frozen=True)
class FailedFilters(ListFilter):
    """The failed list's filters: task, queue, words in the error, and when it failed."""

    LIST = "failed"
    task: str | None = None
    queue: str | None = None
    error: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    cursor: int | None = None
    viewer: Viewer | None = None  # only the jobs this user may see

    PARSERS = {
        "task": text(),
        "queue": choice(QUEUES),
        "error": text(),
        "since": moment,
        "until": moment,
        "cursor": record_id,
    }
    LABELS = {
        "task": "Task",
        "queue": "Queue",
        "error": "Error contains",
        "since": "Failed after",
        "until": "Failed before",
    }

    def check(self) -> None:
        if self.queue and self.queue not in QUEUES:
            raise JobQueryError(f"unknown queue {self.queue!r}; use one of {', '.join(QUEUES)}")


def failed_jobs_query(filters: FailedFilters | None = None) -> Select:
    """Failed jobs that nobody has retried yet: the failed list."""
    retry = aliased(JobLog)
    stmt = (
        select(JobLog)
        .where(JobLog.status == JobStatus.FAILED.value)
        .where(~exists().where(retry.retry_of == JobLog.id))
        .where(~exists().where(DeletedRetry.retry_of == JobLog.id))
    )
    f = filters or FailedFilters()
    if f.viewer is not None:
        stmt = stmt.where(visible_jobs(f.viewer))
    if f.task:
        stmt = stmt.where(JobLog.task == f.task)
    if f.queue:
        stmt = stmt.where(JobLog.queue == f.queue)
    if f.error:
        stmt = stmt.where(JobLog.error.ilike(f"%{f.error}%"))
    if f.since:
        stmt = stmt.where(JobLog.finished_at >= f.since)
    if f.until:
        stmt = stmt.where(JobLog.finished_at < f.until)
    return stmt
