"""The API's request and response models: they validate what comes in, shape what goes out,
and are the source of ``/api/openapi.json``.

Response models ignore keys they do not declare, so a field reaches a client only once it is
described here (``tests/test_api_schemas.py`` checks every ``to_dict`` against its model).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from webapp.api.fields import (
    Count,
    QueryDays,
    QueryId,
    QueryText,
    QueryTime,
    Timestamp,
    body_int,
    body_text,
    choice,
    query_limit,
)
from webapp.exceptions import Invalid
from webapp.models.jobs import QUEUES, STATUSES
from webapp.services.exports import DATASETS, FORMATS
from webapp.services.importers import IMPORTERS, importer_for
from webapp.services.jobs import JOB_SORTS
from webapp.services.listing import MAX_PAGE
from webapp.services.waiting import CODES as WAITING_CODES
from webapp.values import parse_bool

Queue = Literal[QUEUES]  # type: ignore[valid-type]
Status = Literal[STATUSES]  # type: ignore[valid-type]
JobSort = Literal[tuple(s for name in JOB_SORTS for s in (name, f"-{name}"))]  # type: ignore[valid-type]


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and value.strip() == "" else value


class Query(BaseModel):
    """A query string: text converted by the boundary's converters; unknown names refused."""

    model_config = ConfigDict(extra="forbid")


class Body(BaseModel):
    """A JSON body: strict types (``true`` is not a number), unknown fields refused."""

    model_config = ConfigDict(extra="forbid", strict=True)


# -- errors -------------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str = Field(examples=["invalid"])
    message: str = Field(examples=["cron: 'every day' is not a valid cron expression"])
    field: str | None = Field(None, description="the input at fault, when there is one")


class Error(BaseModel):
    """Every error the API answers: 400, 401, 403, 404, 405, 409, 413 or 422."""

    error: ErrorDetail


# -- job logs -----------------------------------------------------------------------------------


class JobSource(BaseModel):
    type: str
    id: int


class WaitingReason(BaseModel):
    """Why a pending job is not running."""

    code: Literal[WAITING_CODES]  # type: ignore[valid-type]
    message: str


class JobLog(BaseModel):
    """One run of a background task."""

    id: int
    task: str
    queue: Queue
    status: Status
    progress: int = Field(ge=0, le=100)
    attempts: Count
    max_attempts: Count
    payload: dict[str, Any]
    message: str | None
    error: str | None
    traceback: str | None
    source: JobSource | None
    user_id: int | None
    batch_id: int | None
    retry_of: int | None
    next_attempt_at: Timestamp | None
    attempt_errors: list[dict[str, Any]]
    cancel_requested: bool
    worker: str | None
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    duration_s: float | None
    tags: list[str]
    waiting_reason: WaitingReason | None = Field(
        None, description="while pending: why it is not running"
    )


class JobLogQuery(Query):
    status: Annotated[Status | None, BeforeValidator(_blank_to_none)] = None
    task: QueryText = None
    queue: Annotated[Queue | None, BeforeValidator(_blank_to_none)] = None
    source_type: QueryText = None
    source_id: QueryId = None
    tag: QueryText = Field(None, description="jobs carrying this tag")
    batch_id: QueryId = None
    q: QueryText = Field(None, description="words in the arguments, payload or error")
    since: QueryTime = Field(None, description="created at or after (ISO 8601)")
    until: QueryTime = Field(None, description="created before (ISO 8601)")
    order: Annotated[Literal["newest", "oldest"], BeforeValidator(lambda v: v or "newest")] = (
        "newest"
    )
    # True by default: the API lists every job, as it always has; the /jobs page hides them.
    system: Annotated[bool, BeforeValidator(lambda v: True if v in (None, "") else v)] = Field(
        True,
        description="false leaves out the app's own timer jobs (tagged system), as the /jobs"
        " page does unless its switch is on (a task or tag filter still finds them)",
    )
    sort: Annotated[JobSort, BeforeValidator(lambda v: v or "-created")] = Field(
        "-created", description="created, duration or status; a leading - for descending"
    )
    limit: query_limit(500) = 50
    cursor: QueryId = Field(
        None, description="next_cursor of the previous page (sorted by created)"
    )
    page: Annotated[int, Field(ge=1, le=MAX_PAGE), BeforeValidator(lambda v: v or 1)] = Field(
        1, description="the page, when sorted by duration or status (next_cursor is then null)"
    )


class JobLogPage(BaseModel):
    items: list[JobLog]
    next_cursor: int | None


class TaskStats(BaseModel):
    task: str
    total: Count
    completed: Count
    failed: Count
    avg_duration_s: float | None


class JobStats(BaseModel):
    by_status: dict[str, int]
    by_queue: dict[str, dict[str, int]]
    by_task: list[TaskStats]
    failed_last_hour: Count
    avg_duration_s: float | None


class CleanupQuery(Query):
    days: QueryDays = Field(description="delete finished job logs older than this many days")


class Deleted(BaseModel):
    deleted: Count


class QueueCounts(BaseModel):
    high: Count
    default: Count
    low: Count
    running: Count
    failed: Count


# -- operations ---------------------------------------------------------------------------------


class Pause(BaseModel):
    kind: Literal["queue", "task"]
    name: str
    paused_at: Timestamp | None


class Batch(BaseModel):
    id: int
    name: str
    total: Count
    done: Count
    failed: Count
    progress: int = Field(ge=0, le=100)
    counts: dict[str, int]
    created_at: Timestamp
    cancelled_at: Timestamp | None
    finished_at: Timestamp | None


class BatchRetry(BaseModel):
    retried: Count
    job_ids: list[int]


class Alert(BaseModel):
    id: int
    key: str
    message: str
    raised_at: Timestamp
    cleared_at: Timestamp | None


class Consumer(BaseModel):
    id: str
    workers: int
    started_at: Timestamp
    heartbeat_at: Timestamp


# -- schedules ----------------------------------------------------------------------------------


class ScheduleRun(BaseModel):
    """One run of a schedule, newest first in a schedule's history."""

    id: int
    schedule_id: int
    due_at: Timestamp
    status: str
    trigger: Literal["schedule", "manual", "catch-up"]
    note: str | None
    started_at: Timestamp | None
    finished_at: Timestamp | None
    duration_s: float | None
    exit_code: int | None
    output: str | None
    job_log_id: int | None


class Schedule(BaseModel):
    id: int
    name: str
    description: str
    command: str = Field(examples=["series check-data-updates"])
    parameters: dict[str, Any] = Field(examples=[{"--hours": "12"}])
    cron: str = Field(examples=["0 3 * * *"])
    cron_description: str
    timezone: str = Field(examples=["Europe/Berlin"])
    queue: Queue
    active: bool
    without_overlapping: bool
    success_window_minutes: int | None
    next_run_at: Timestamp | None
    last_run: ScheduleRun | None


# Longest success window: a year of minutes (the column is a 32-bit integer).
MAX_WINDOW_MINUTES = 366 * 24 * 60
PRESETS = (
    "every_minute",
    "every_30_seconds",
    "hourly",
    "daily",
    "daily_at",
    "twice_daily",
    "weekly_on",
    "monthly_on",
)


class ScheduleInput(Body):
    """A schedule to create, or the fields to change (PATCH: only those sent change).

    ``cron`` or ``preset`` (with ``preset_at``, ``preset_day`` or ``preset_hours``) sets the timing.
    """

    name: body_text(100) | None = None
    description: body_text(2000) | None = None
    command: body_text(200) | None = Field(None, examples=["series check-data-updates"])
    parameters: dict[str, Any] | None = Field(None, examples=[{"--hours": "12"}])
    cron: body_text(100) | None = Field(None, examples=["0 3 * * *"])
    preset: choice(PRESETS) | None = None
    preset_at: body_text(5) | None = Field(None, examples=["02:30"])
    preset_day: body_text(10) | None = Field(None, examples=["monday"])
    preset_hours: body_text(20) | None = Field(None, examples=["1,13"])
    timezone: body_text(64) | None = Field(None, examples=["Europe/Berlin"])
    queue: choice(QUEUES) | None = None
    active: bool | None = None
    without_overlapping: bool | None = None
    success_window_minutes: body_int(1, MAX_WINDOW_MINUTES) | None = None


class RunsQuery(Query):
    limit: query_limit(500) = 50
    cursor: QueryId = Field(None, description="the id of the last run of the previous page")


# -- imports and exports ------------------------------------------------------------------------


def _upload(value: Any) -> Any:
    if not getattr(value, "filename", None):
        raise Invalid("send the file as multipart form field `file`", field="file")
    return value


def _flag(value: Any) -> bool:
    return parse_bool(value, "dry_run")


class ImportForm(BaseModel):
    """The multipart form of an upload; fields it does not name are ignored."""

    file: Annotated[
        Any, BeforeValidator(_upload), WithJsonSchema({"type": "string", "format": "binary"})
    ]
    importer: Annotated[
        str,
        BeforeValidator(lambda name: importer_for(str(name)).name),
        WithJsonSchema({"type": "string", "enum": list(IMPORTERS)}),
    ]
    dry_run: Annotated[
        bool, BeforeValidator(_flag), WithJsonSchema({"type": "boolean", "default": False})
    ] = False


class Import(BaseModel):
    id: int
    importer: str
    filename: str
    dry_run: bool
    status: str
    total_rows: Count
    processed_rows: Count
    created_rows: Count
    updated_rows: Count
    failed_rows: Count
    error: str | None
    job_log_id: int | None = Field(description="the job that runs the import")
    user_id: int | None
    created_at: Timestamp
    finished_at: Timestamp | None


class FailedRowsQuery(Query):
    format: Annotated[Literal["json", "csv"] | None, BeforeValidator(_blank_to_none)] = Field(
        None, description="csv: the original columns plus an error column"
    )


class FailedRow(BaseModel):
    row_number: int
    data: dict[str, Any]
    errors: dict[str, list[str]]


class ExportFilters(Body):
    status: body_text(20) | None = None
    since: body_text(32) | None = Field(None, examples=["2026-01-31"])
    until: body_text(32) | None = Field(None, examples=["2026-02-28"])
    search: body_text(200) | None = None


class ExportInput(Body):
    dataset: choice(DATASETS)
    format: choice(FORMATS)
    filters: ExportFilters | None = None


class Export(BaseModel):
    id: int
    dataset: str
    format: str
    filters: dict[str, str]
    status: str
    rows: Count
    total_rows: Count | None
    progress: int = Field(ge=0, le=100)
    size: Count | None
    error: str | None
    job_log_id: int | None = Field(description="the job that writes the file")
    user_id: int | None
    created_at: Timestamp
    finished_at: Timestamp | None
    expires_at: Timestamp | None


# -- retry with changes and failure groups ------------------------------------------------------


class RetryInput(Body):
    """What to change in a retry; no body (or no ``kwargs``) retries with the same arguments."""

    kwargs: dict[str, Any] | None = Field(
        None,
        description="arguments to change, by parameter name; the others stay as they were. "
        'A value sent back as shown ("[redacted]") keeps what the job log kept.',
        examples=[{"steps": 3}],
    )
