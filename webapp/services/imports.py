"""Imports: an importer registry, uploads, dry runs and chunked runs with per-row errors."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, ClassVar

from flask import current_app
from sqlalchemy import insert, select
from sqlalchemy.exc import DataError, IntegrityError
from werkzeug.datastructures import MultiDict
from wtforms import Form, IntegerField, StringField
from wtforms.validators import URL, DataRequired, Length, NumberRange, Optional

from webapp.boundary import MAX_INTEGER
from webapp.exceptions import Invalid, NotFound
from webapp.extensions import database_error_message, db, is_busy
from webapp.models.base import utcnow
from webapp.models.integrations import Integration
from webapp.models.series import Series
from webapp.models.transfers import FailedImportRow, Import
from webapp.services import audit
from webapp.services.files import FileRefused, check_table, csv_text, read_table
from webapp.services.integrations import IntegrationError, plugin_for
from webapp.services.ownership import owned, unseen

CHUNK_SIZE = 500
log = logging.getLogger(__name__)
_forms = threading.local()


class ImportRequestError(Invalid):
    """An import request that cannot be carried out (unknown importer or id)."""


class ImportNotFound(NotFound, ImportRequestError):
    """No import with this id that the caller may see."""


class Importer:
    """One kind of import: its columns, a WTForms form to validate a row, and how to save it."""

    name: ClassVar[str]
    label: ClassVar[str]
    required: ClassVar[tuple[str, ...]]
    optional: ClassVar[tuple[str, ...]] = ()
    # Columns accepted and not used (e.g. those an export of the same data adds).
    ignored: ClassVar[tuple[str, ...]] = ()
    form: ClassVar[type[Form]]

    def check_header(self, header: list[str]) -> None:
        missing = [c for c in self.required if c not in header]
        unknown = [c for c in header if c and c not in self.required + self.optional + self.ignored]
        problems = []
        if missing:
            problems.append(f"missing column(s): {', '.join(missing)}")
        if unknown:
            problems.append(f"unknown column(s): {', '.join(unknown)}")
        if problems:
            expected = ", ".join(self.required + self.optional)
            raise FileRefused(f"{'; '.join(problems)} (expected: {expected})")

    def validate(self, row: dict[str, str], user_id: int | None) -> tuple[dict | None, dict]:
        """(clean values, {}) or (None, {field: [messages]})."""
        wanted = self.required + self.optional
        # One form per importer and thread, filled anew for every row: making a WTForms form
        # (binding its fields) cost as much as validating and saving the row did.
        form = getattr(_forms, self.name, None)
        if form is None:
            form = self.form()
            setattr(_forms, self.name, form)
        form.process(formdata=MultiDict({k: v for k, v in row.items() if v and k in wanted}))
        if not form.validate():
            return None, {k: list(v) for k, v in form.errors.items()}
        return self.clean(form), {}

    def clean(self, form: Form) -> dict:
        return {name: field.data for name, field in form._fields.items()}

    def save(self, values: dict, user_id: int | None, dry_run: bool) -> str:
        """Create or update a record; returns "created" or "updated" (nothing written if dry)."""
        raise NotImplementedError

    def save_many(self, values: list[dict], user_id: int | None, dry_run: bool) -> list[str]:
        """Save a chunk of rows; importers may do it in fewer queries."""
        return [self.save(v, user_id, dry_run) for v in values]


class SeriesRowForm(Form):
    name = StringField(validators=[Optional(), Length(max=255)])
    tvmaze_id = IntegerField(validators=[Optional(), NumberRange(min=1, max=MAX_INTEGER)])
    tvdb_id = IntegerField(validators=[Optional(), NumberRange(min=1, max=MAX_INTEGER)])

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if ok and not self.tvmaze_id.data and not self.tvdb_id.data:
            self.tvmaze_id.errors = ["give a tvmaze_id or a tvdb_id"]
            return False
        return ok


class SeriesImporter(Importer):
    name = "series"
    label = "Series (name, tvmaze_id, tvdb_id)"
    required = ("name", "tvmaze_id", "tvdb_id")
    # A CSV export of the series dataset imports as it is.
    ignored = (
        "id",
        "imdb_id",
        "status",
        "premiered",
        "network",
        "upstream_state",
        "data_last_updated_at",
        "created_at",
    )
    form = SeriesRowForm

    def save_many(self, values: list[dict], user_id: int | None, dry_run: bool) -> list[str]:
        return _series_save_many(values, user_id, dry_run)

    def save(self, values: dict, user_id: int | None, dry_run: bool) -> str:
        [outcome] = _series_save_many([values], user_id, dry_run)
        return outcome


def _series_save_many(values: list[dict], user_id: int | None, dry_run: bool) -> list[str]:
    """Two queries find the existing series of a whole chunk; one bulk insert adds the new ones
    and one flush updates the others, so the write lock is held for little more than that."""
    tvmaze_ids = {v["tvmaze_id"] for v in values if v["tvmaze_id"]}
    tvdb_ids = {v["tvdb_id"] for v in values if v["tvdb_id"]}
    by_tvmaze: dict[int, Any] = {
        s.tvmaze_id: s
        for s in db.session.scalars(select(Series).where(Series.tvmaze_id.in_(tvmaze_ids)))
    }
    by_tvdb: dict[int, Any] = {
        s.tvdb_id: s for s in db.session.scalars(select(Series).where(Series.tvdb_id.in_(tvdb_ids)))
    }
    outcomes = []
    new_rows: list[dict] = []  # series this chunk creates; a later row may update one of them
    with db.session.no_autoflush:
        for v in values:
            series = by_tvmaze.get(v["tvmaze_id"]) or by_tvdb.get(v["tvdb_id"])
            outcomes.append("updated" if series is not None else "created")
            if dry_run:  # count only; a later row with the same id would be an update
                by_tvmaze.setdefault(v["tvmaze_id"], series or True)
                by_tvdb.setdefault(v["tvdb_id"], series or True)
                continue
            if series is None:
                series = {"added_by_id": user_id, "name": None, "tvmaze_id": None, "tvdb_id": None}
                new_rows.append(series)
            fields = {"name": v["name"], "tvmaze_id": v["tvmaze_id"], "tvdb_id": v["tvdb_id"]}
            for name, value in fields.items():
                if not value:
                    continue
                if isinstance(series, dict):
                    series[name] = value
                else:
                    setattr(series, name, value)
            for ids, name in ((by_tvmaze, "tvmaze_id"), (by_tvdb, "tvdb_id")):
                key = series[name] if isinstance(series, dict) else getattr(series, name)
                if key:
                    ids[key] = series
    if not dry_run:
        if new_rows:
            db.session.execute(insert(Series), new_rows)
        db.session.flush()
    return outcomes


class IntegrationRowForm(Form):
    service = StringField(validators=[DataRequired()])
    name = StringField(validators=[DataRequired(), Length(max=100)])
    update_frequency_minutes = IntegerField(
        validators=[DataRequired(), NumberRange(min=1, max=MAX_INTEGER)]
    )
    tvmaze_id = IntegerField(validators=[Optional(), NumberRange(min=1, max=MAX_INTEGER)])
    url = StringField(validators=[Optional(), URL(require_tld=False)])


class IntegrationsImporter(Importer):
    name = "integrations"
    label = "Integrations, for the importing user (service, name, update_frequency_minutes, …)"
    required = ("service", "name", "update_frequency_minutes")
    optional = ("tvmaze_id", "url")
    form = IntegrationRowForm

    def validate(self, row: dict[str, str], user_id: int | None) -> tuple[dict | None, dict]:
        values, errors = super().validate(row, user_id)
        if values is None:
            return None, errors
        try:
            values["settings"] = plugin_for(values["service"]).clean_settings(values)
        except IntegrationError as exc:
            field, _, message = str(exc).partition(": ")
            return None, {field if message else "service": [message or str(exc)]}
        return values, {}

    def save(self, values: dict, user_id: int | None, dry_run: bool) -> str:
        from webapp.services.integrations import store_settings

        if user_id is None:
            raise ValueError("integrations are imported for a user")
        existing = db.session.scalar(
            select(Integration).where(
                Integration.user_id == user_id, Integration.name == values["name"]
            )
        )
        if not dry_run:
            integration = existing or Integration(user_id=user_id, name=values["name"])
            integration.service = values["service"]
            store_settings(integration, values["settings"])
            integration.update_frequency_minutes = values["update_frequency_minutes"]
            db.session.add(integration)
            db.session.flush()
        return "updated" if existing else "created"


IMPORTERS: dict[str, Importer] = {i.name: i for i in (SeriesImporter(), IntegrationsImporter())}


def importer_for(name: str) -> Importer:
    try:
        return IMPORTERS[name]
    except KeyError:
        raise ImportRequestError(
            f"importer must be one of {', '.join(IMPORTERS)}, not {name!r}", field="importer"
        ) from None


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
        db.session.execute(insert(FailedImportRow), refused)
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
