"""Imports: uploads, dry runs and chunked, resumable runs with per-row errors.

What each kind of import reads and how it saves a row are in ``importers``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO

from flask import current_app
from sqlalchemy import insert, select
from sqlalchemy.exc import DataError, IntegrityError

from webapp.exceptions import NotFound
from webapp.extensions import database_error_message, db, is_busy
from webapp.models.base import utcnow
from webapp.models.transfers import FailedImportRow, Import
from webapp.services import audit
from webapp.services.files import FileRefused, check_table, csv_text, read_table
from webapp.services.importers import Importer, ImportRequestError, importer_for
from webapp.services.ownership import owned, unseen

CHUNK_SIZE = 500
log = logging.getLogger(__name__)


class ImportNotFound(NotFound, ImportRequestError):
    """No import with this id that the caller may see."""


# -- uploads ---------------------------------------------------------------------------------


def store_upload(
    stream: IO[bytes], filename: str, importer: str, user_id: int | None, dry_run: bool
) -> Import:
    """Save an upload under DATA_DIR, read it through once, and record the import.

    A refused file (too large, empty, binary, not one encoding, a line that is not CSV or a
    field over 128 KB, a wrong header) raises FileRefused saying why; then nothing is recorded
    and nothing is left on disk, whatever else goes wrong.
    """
    imp = importer_for(importer)
    shown_name = "".join(ch for ch in str(filename) if ch.isprintable())[:255] or "upload"
    folder = Path(current_app.config["DATA_DIR"]) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}{_suffix(shown_name)}"
    limit = current_app.config["IMPORT_MAX_BYTES"]
    try:
        size = _copy_at_most(stream, path, limit)
        header, total = check_table(path)
        imp.check_header(header)
        record = Import(
            importer=importer,
            filename=shown_name,
            path=str(path),
            size=size,
            user_id=user_id,
            dry_run=dry_run,
            total_rows=total,
        )
        db.session.add(record)
        db.session.flush()
        audit.record(
            "import.create",
            ("import", record.id),
            changes={"importer": importer, "filename": record.filename, "dry_run": dry_run},
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        path.unlink(missing_ok=True)
        raise
    return record


def _suffix(filename: str) -> str:
    """The upload's extension, kept on the stored file when it is a plain one (".csv")."""
    suffix = Path(filename).suffix.lower()[:6]
    return suffix if suffix[1:].isascii() and suffix[1:].isalnum() else ""


def _copy_at_most(stream: IO[bytes], path: Path, limit: int) -> int:
    """Copy ``stream`` to ``path``; FileRefused as soon as it passes ``limit`` bytes."""
    size = 0
    with open(path, "wb") as out:
        while chunk := stream.read(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise FileRefused(f"the file is larger than {limit // (1024 * 1024)} MB")
            out.write(chunk)
    return size


def get_import(import_id: int, user_id: int | None = None, is_admin: bool = True) -> Import:
    record = owned(Import, import_id, user_id, is_admin)
    if record is None:
        raise ImportNotFound(
            f"import {import_id} not found" if is_admin else unseen(f"import {import_id}")
        )
    return record


# -- running ---------------------------------------------------------------------------------


def run_import(import_id: int, report: Callable[..., None] | None = None) -> Import:
    """Validate and save every row in chunks; refused rows are kept with their errors.

    Each chunk is parsed and validated first and then written in one short transaction, with
    its refused rows and the new counts, so the write lock is never held while a file is read.
    A run after one that stopped (failed, cancelled, lost) continues after the rows already
    counted: nothing is stored or counted twice. Whatever stops a run marks the import failed,
    with a message fit for the person who started it, and lets it through.

    A dry run validates and counts what would be created or updated, and writes none of it.
    """
    record = db.session.get(Import, import_id)
    if record is None:
        raise ImportNotFound(f"import {import_id} not found")
    if record.status == "completed":
        return record
    imp = importer_for(record.importer)
    path, user_id, dry_run = Path(record.path), record.user_id, record.dry_run
    record.status, record.error, record.finished_at = "running", None, None
    db.session.commit()
    try:
        return _run(record, imp, path, user_id, dry_run, report)
    except Exception as exc:
        db.session.rollback()
        record.status, record.finished_at = "failed", utcnow()
        record.error = _stop_message(exc, record.processed_rows)
        db.session.commit()
        raise


def _run(record: Import, imp: Importer, path: Path, user_id, dry_run: bool, report) -> Import:
    header, rows = read_table(path)
    imp.check_header(header)
    if not record.total_rows:
        # A quick first pass counts the rows, so that progress can be shown as a share of them.
        record.total_rows = check_table(path)[1]
        db.session.commit()
    total_rows, done = record.total_rows, record.processed_rows
    counts = {
        "created": record.created_rows,
        "updated": record.updated_rows,
        "failed": record.failed_rows,
        "total": done,
    }
    chunk: list[tuple[int, dict, dict | None, dict]] = []  # (number, row, values, errors)
    seen = 0
    for number, row in rows:
        seen += 1
        if seen <= done:  # stored by an earlier run
            continue
        values, errors = imp.validate(row, user_id)
        chunk.append((number, row, values, errors))
        if len(chunk) == CHUNK_SIZE:
            _save_chunk(record, imp, chunk, counts, user_id, dry_run)
            _report(report, counts, total_rows)
    _save_chunk(record, imp, chunk, counts, user_id, dry_run)
    _report(report, counts, total_rows)
    record.status, record.finished_at = "completed", utcnow()
    db.session.commit()
    return record


def _save_chunk(record: Import, imp: Importer, chunk: list, counts: dict, user_id, dry_run) -> None:
    """Write one validated chunk, its refused rows and the counts in one transaction."""
    valid = [(number, row, values) for number, row, values, errors in chunk if not errors]
    refused = [
        {"import_id": record.id, "row_number": number, "data": row, "errors": errors}
        for number, row, _, errors in chunk
        if errors
    ]
    outcomes = _save_rows(imp, [values for _, _, values in valid], user_id, dry_run)
    for (number, row, _), outcome in zip(valid, outcomes, strict=True):
        if isinstance(outcome, dict):
            refused.append(
                {"import_id": record.id, "row_number": number, "data": row, "errors": outcome}
            )
        else:
            counts[outcome] += 1
    if refused:
        refused.sort(key=lambda r: r["row_number"])
        db.session.execute(insert(FailedImportRow.__table__), refused)
    counts["failed"] += len(refused)
    counts["total"] += len(chunk)
    record.processed_rows = counts["total"]
    record.total_rows = max(record.total_rows, counts["total"])
    record.created_rows, record.updated_rows = counts["created"], counts["updated"]
    record.failed_rows = counts["failed"]
    db.session.commit()
    chunk.clear()


def _save_rows(imp: Importer, values: list[dict], user_id, dry_run: bool) -> list[str | dict]:
    """Save a chunk at once; if the database refuses a row in it, row by row so that only the
    rows it refuses are refused (each outcome: "created", "updated" or the errors). Any other
    error (a busy database, a lost connection) is no fault of a row and stops the import."""
    if not values:
        return []
    # No savepoint around the chunk: the importer's reads then run before any write, outside the
    # transaction, and the write lock is taken at its first write. Nothing else is pending (the
    # last chunk was committed), so a refused chunk is rolled back whole.
    try:
        return imp.save_many(values, user_id, dry_run)
    except (IntegrityError, DataError):
        db.session.rollback()
    outcomes: list[str | dict] = []
    for value in values:
        try:
            with db.session.begin_nested():
                outcomes.append(imp.save(value, user_id, dry_run))
        except (IntegrityError, DataError) as exc:  # a row the database refuses (a duplicate id)
            outcomes.append({"row": [database_error_message(exc)]})
    return outcomes


def _report(report, counts: dict, total_rows: int) -> None:
    if report:
        report(
            progress=100 * counts["total"] / max(total_rows, 1),
            message=f"{counts['total']} of {total_rows} rows read, {counts['failed']} refused",
        )


def _stop_message(exc: Exception, stored: int) -> str:
    """Why an import stopped, for its page: the file's fault, or the database's (no SQL)."""
    if isinstance(exc, FileRefused):
        return str(exc)
    if is_busy(exc):
        return (
            f"The database was busy; the rows after row {stored} were not stored. "
            "Retry the import: it continues from there."
        )
    meaning = database_error_message(exc) or f"{type(exc).__name__}: {exc}"
    return f"The import stopped after {stored} rows ({meaning}). Retry it to continue from there."


def end_import(import_id: int, status: str, error: str) -> None:
    """Mark an import that its job stopped (``cancelled`` or ``failed``) unless it finished."""
    record = db.session.get(Import, import_id)
    if record is not None and record.status != "completed":
        record.status, record.error, record.finished_at = status, error, utcnow()
        db.session.commit()


def failed_rows(import_id: int, limit: int = 100, after_row: int = 0) -> list[FailedImportRow]:
    return list(
        db.session.scalars(
            select(FailedImportRow)
            .where(FailedImportRow.import_id == import_id, FailedImportRow.row_number > after_row)
            .order_by(FailedImportRow.row_number)
            .limit(limit)
        )
    )


def failed_rows_csv(record: Import) -> str:
    """The refused rows with their original columns and an `error` column, ready to fix."""
    imp = importer_for(record.importer)
    rows = list(
        db.session.scalars(
            select(FailedImportRow)
            .where(FailedImportRow.import_id == record.id)
            .order_by(FailedImportRow.row_number)
        )
    )
    columns = list(imp.required + imp.optional)
    for row in rows:
        columns += [c for c in row.data if c not in columns]
    body = [
        [row.data.get(c, "") for c in columns]
        + ["; ".join(f"{field}: {', '.join(msgs)}" for field, msgs in row.errors.items())]
        for row in rows
    ]
    return csv_text([*columns, "error"], body)
