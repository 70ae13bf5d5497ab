"""Exports: datasets streamed to CSV, JSON Lines or XLSX in constant memory, under DATA_DIR."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import (
    Select,
    func,
    or_,
    select,
    update,
)

from webapp import boundary
from webapp.exceptions import BadRequest, Forbidden, Invalid, NotFound
from webapp.extensions import database_error_message, db
from webapp.models.audit import CHANNELS, AuditEntry
from webapp.models.base import utcnow
from webapp.models.jobs import JobLog, JobStatus
from webapp.models.schedules import RUN_STATUSES, ScheduleRun
from webapp.models.series import Episode, Series, SyncStatus
from webapp.models.transfers import Export
from webapp.models.users import User
from webapp.services import audit, export_writers
from webapp.services.jobs import JobFilters, JobQueryError
from webapp.services.ownership import (
    Viewer,
    owned,
    owned_list,
    unseen,
    viewer_for_user_id,
    visible_jobs,
)

FORMATS = ("csv", "jsonl", "xlsx")
BATCH = 2000


class ExportError(Invalid):
    """An export request that cannot be carried out (unknown dataset or format, bad filters)."""


class ExportNotFound(NotFound, ExportError):
    """No export with this id that the caller may see."""


@dataclass(frozen=True)
class Dataset:
    name: str
    model: Any
    columns: tuple[str, ...]
    search: tuple[str, ...]  # columns searched by the `search` filter
    status_column: str | None
    time_column: str
    admins_only: bool = False
    # What the status filter may be; None: any text (a series' status is TVmaze's own word).
    statuses: tuple[str, ...] | None = None


DATASETS = {
    d.name: d
    for d in (
        Dataset(
            "job_logs",
            JobLog,
            (
                "id",
                "task",
                "queue",
                "status",
                "progress",
                "attempts",
                "max_attempts",
                "message",
                "error",
                "source_type",
                "source_id",
                "user_id",
                "batch_id",
                "retry_of",
                "created_at",
                "started_at",
                "finished_at",
            ),
            ("task", "error", "message"),
            "status",
            "created_at",
            statuses=tuple(JobStatus),
        ),
        Dataset(
            "series",
            Series,
            (
                "id",
                "name",
                "tvmaze_id",
                "tvdb_id",
                "imdb_id",
                "status",
                "premiered",
                "network",
                "upstream_state",
                "data_last_updated_at",
                "created_at",
            ),
            ("name",),
            "status",
            "created_at",
        ),
        Dataset(
            "episodes",
            Episode,
            (
                "id",
                "series_id",
                "tvmaze_id",
                "season",
                "number",
                "name",
                "airdate",
                "sync_status",
                "last_error",
                "data_last_updated_at",
            ),
            ("name",),
            "sync_status",
            "created_at",
            statuses=tuple(SyncStatus),
        ),
        Dataset(
            "schedule_runs",
            ScheduleRun,
            (
                "id",
                "schedule_id",
                "due_at",
                "status",
                "trigger",
                "started_at",
                "finished_at",
                "exit_code",
                "output",
                "job_log_id",
            ),
            ("output",),
            "status",
            "due_at",
            statuses=RUN_STATUSES,
        ),
        Dataset(
            "audit",
            AuditEntry,
            (
                "id",
                "at",
                "actor",
                "channel",
                "action",
                "target_type",
                "target_id",
                "count",
                "filters",
                "changes",
                "ip",
            ),
            ("actor", "action", "target_id"),
            "channel",
            "at",
            admins_only=True,
            statuses=CHANNELS,
        ),
    )
}


def _date(value: Any, name: str) -> datetime | None:
    """A date or time filter, read as the job list reads ``since``/``until`` (any ISO 8601 time
    or date, in UTC, clamped to the calendar); ExportError naming ``filters.<name>``."""
    if value in (None, ""):
        return None
    try:
        return boundary.moment(value, f"filters.{name}")
    except BadRequest:
        raise ExportError(
            f"filters.{name} must be a date like 2026-01-31 or an ISO 8601 time, "
            f"not {str(value)[:40]!r}",
            field=f"filters.{name}",
        ) from None


def _status(dataset: Dataset, value: Any) -> None:
    """The status filter as the dataset's lists take it: job logs exactly as the jobs list
    filters them (``JobFilters``), others among their own statuses."""
    if value in (None, "") or dataset.statuses is None:
        return
    field = "filters.status"
    if dataset.model is JobLog:
        try:
            JobFilters(status=str(value))  # it checks itself
        except JobQueryError as exc:
            raise ExportError(str(exc), field=field) from None
    elif value not in dataset.statuses:
        raise ExportError(
            f"unknown {dataset.name} status {value!r}; use one of {', '.join(dataset.statuses)}",
            field=field,
        )


def clean_request(dataset: str, fmt: str, filters: dict[str, Any] | None) -> dict[str, Any]:
    """The filters of an export request, checked before anything is recorded."""
    if dataset not in DATASETS:
        raise ExportError(
            f"dataset must be one of {', '.join(DATASETS)}, not {dataset!r}", field="dataset"
        )
    if fmt not in FORMATS:
        raise ExportError(
            f"format must be one of {', '.join(FORMATS)}, not {fmt!r}", field="format"
        )
    filters = filters or {}
    if not isinstance(filters, dict):
        raise ExportError("filters must be an object", field="filters")
    unknown = set(filters) - {"status", "since", "until", "search"}
    if unknown:
        raise ExportError(
            f"unknown filters: {', '.join(sorted(unknown))} (use status, since, until, search)",
            field="filters",
        )
    _status(DATASETS[dataset], filters.get("status"))
    since, until = _date(filters.get("since"), "since"), _date(filters.get("until"), "until")
    if since and until and until < since:
        raise ExportError("the until date is before the since date", field="filters.until")
    return {k: str(v) for k, v in filters.items() if v not in (None, "")}


def query_for(dataset: Dataset, filters: dict[str, str], viewer: Viewer | None = None) -> Select:
    """The dataset's rows as ``filters`` choose them; job logs only those ``viewer`` may see."""
    model = dataset.model
    stmt = select(*export_writers.selected(model, dataset.columns, db.engine.dialect.name))
    if model is JobLog:
        stmt = stmt.where(visible_jobs(viewer))
    if filters.get("status") and dataset.status_column:
        stmt = stmt.where(getattr(model, dataset.status_column) == filters["status"])
    since, until = _date(filters.get("since"), "since"), _date(filters.get("until"), "until")
    time_column = getattr(model, dataset.time_column)
    if since:
        stmt = stmt.where(time_column >= since)
    if until:
        stmt = stmt.where(
            time_column < until + timedelta(days=1) if len(filters["until"]) == 10 else until
        )
    if filters.get("search"):
        like = f"%{filters['search']}%"
        stmt = stmt.where(or_(*(getattr(model, c).ilike(like) for c in dataset.search)))
    return stmt.order_by(model.id)


def start_export(dataset: str, fmt: str, filters: dict | None, user_id: int | None) -> Export:
    """Record an export for ``user_id`` (None: the CLI); audited as ``export.create``.

    Forbidden when the dataset is for admins only and the user is not one.
    """
    cleaned = clean_request(dataset, fmt, filters)
    if DATASETS[dataset].admins_only and user_id is not None:
        user = db.session.get(User, user_id)
        if user is None or not user.is_admin:
            raise Forbidden(f"the {dataset} dataset is for admins only")
    export = Export(dataset=dataset, format=fmt, filters=cleaned, user_id=user_id)
    db.session.add(export)
    db.session.flush()
    audit.record(
        "export.create",
        ("export", export.id),
        changes={"dataset": dataset, "format": fmt, "filters": cleaned},
    )
    db.session.commit()
    return export


def get_export(export_id: int, user_id: int | None, is_admin: bool) -> Export:
    """The export, only for its owner or an admin; anyone else gets "not found"."""
    export = owned(Export, export_id, user_id, is_admin)
    if export is None:
        raise ExportNotFound(
            f"export {export_id} not found" if is_admin else unseen(f"export {export_id}")
        )
    return export


def exports_of(user_id: int | None, is_admin: bool, limit: int = 50) -> list[Export]:
    return owned_list(Export, user_id, is_admin, limit)


def _rows(stmt: Select) -> Iterator[tuple]:
    """Stream rows from the database without loading them all."""
    with db.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(stmt)
        yield from result


def write_export(export_id: int, report: Callable[..., None] | None = None) -> Export:
    """Write the export to a temporary file in constant memory, then rename it into place."""
    export = db.session.get(Export, export_id)
    dataset = DATASETS[export.dataset]
    stmt = query_for(dataset, export.filters, viewer_for_user_id(export.user_id))
    export.status = "running"
    export.total_rows = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    db.session.commit()
    folder = Path(current_app.config["DATA_DIR"]) / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"export-{export.id}-{export.dataset}.{export.format}"
    temporary = final.with_name(final.name + ".part")
    written = 0

    def progress(count: int) -> None:
        db.session.execute(update(Export).where(Export.id == export_id).values(rows=count))
        db.session.commit()
        if report:
            report(
                progress=100 * count / max(export.total_rows or 1, 1),
                message=f"{count} of {export.total_rows} rows",
            )

    try:
        cells = export_writers.cells_for(
            dataset.model, dataset.columns, db.engine.dialect.name, export.format != "jsonl"
        )
        written = export_writers.WRITERS[export.format](
            temporary, dataset.columns, _rows(stmt), progress, cells
        )
        os.replace(temporary, final)
    except Exception as exc:  # whatever broke the file: record the failure, then re-raise
        temporary.unlink(missing_ok=True)
        db.session.rollback()
        export.status, export.finished_at = "failed", utcnow()
        export.error = database_error_message(exc) or str(exc)
        db.session.commit()
        raise
    export.status, export.rows, export.path = "completed", written, str(final)
    export.size = final.stat().st_size
    export.finished_at = utcnow()
    export.expires_at = export.finished_at + timedelta(
        days=current_app.config["EXPORT_EXPIRY_DAYS"]
    )
    db.session.commit()
    return export


def end_export(export_id: int, status: str, error: str) -> None:
    """Mark an export that its job stopped (``cancelled`` or ``failed``) unless it finished."""
    export = db.session.get(Export, export_id)
    if export is not None and export.status != "completed":
        export.status, export.error, export.finished_at = status, error, utcnow()
        db.session.commit()


def delete_expired(now: datetime | None = None) -> int:
    """Delete the files of exports past their expiry; returns how many."""
    now = now or utcnow()
    expired = db.session.scalars(
        select(Export).where(Export.expires_at < now, Export.status == "completed")
    ).all()
    for export in expired:
        if export.path:
            Path(export.path).unlink(missing_ok=True)
        export.status, export.path = "expired", None
    db.session.commit()
    return len(expired)
