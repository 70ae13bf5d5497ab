"""Imports and exports over the API."""

from pathlib import Path

from flask import Response, request, send_file
from flask_login import current_user

from tasks.transfers import run_export, run_import
from webapp.api.routing import api_route
from webapp.api.schemas import (
    Export,
    ExportInput,
    FailedRow,
    FailedRowsQuery,
    Import,
    ImportForm,
)
from webapp.exceptions import Conflict
from webapp.extensions import db
from webapp.models.users import Role
from webapp.services import exports, imports
from webapp.services.files import FileRefused


def start_import_from_request(dry_run: bool):
    """Shared by the API and the page: store the upload, dispatch its job, and return the
    import with the id of that job."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise FileRefused("send the file as multipart form field `file`")
    record = imports.store_upload(
        upload.stream,
        upload.filename,
        request.form.get("importer", ""),
        current_user.id,
        dry_run,
    )
    job_id = run_import.dispatch(record.id, user_id=current_user.id, source=("import", record.id))
    return _with_job(imports.get_import(record.id), job_id)


def _with_job(record, job_id: int):
    """The job's own task records its id when it starts; a queued one has not started yet."""
    db.session.refresh(record)
    if record.job_log_id is None:
        record.job_log_id = job_id
        db.session.commit()
    return record


@api_route(
    "/imports",
    ["POST"],
    role=Role.OPERATOR,
    form=ImportForm,
    responses={202: Import},
    errors=[413],
)
def create_import(form: ImportForm):
    """Upload a CSV or XLSX file to import (operator); 413 past IMPORT_MAX_BYTES"""
    return start_import_from_request(form.dry_run).to_dict(), 202


def _import(import_id: int):
    return imports.get_import(import_id, current_user.id, current_user.is_admin)


@api_route("/imports/<int:import_id>", ["GET"], responses={200: Import})
def get_import(import_id: int):
    """An import's status and counts (owner or admin)"""
    return _import(import_id).to_dict()


@api_route(
    "/imports/<int:import_id>/failed-rows",
    ["GET"],
    query=FailedRowsQuery,
    responses={200: list[FailedRow]},
    media={200: {"text/csv": {"schema": {"type": "string"}}}},
)
def import_failed_rows(import_id: int, query: FailedRowsQuery):
    """Refused rows {row_number, data, errors}

    With format=csv: the original columns plus an error column.
    """
    record = _import(import_id)
    if query.format == "csv":
        return Response(
            imports.failed_rows_csv(record),
            mimetype="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="import-{record.id}-failed.csv"'
            },
        )
    return [row.to_dict() for row in imports.failed_rows(record.id, limit=100_000)]


@api_route(
    "/exports",
    ["POST"],
    role=Role.OPERATOR,
    body=ExportInput,
    responses={202: Export},
)
def create_export(body: ExportInput):
    """Start an export (operator)"""
    filters = body.filters.model_dump(exclude_none=True) if body.filters else None
    export = exports.start_export(body.dataset, body.format, filters, current_user.id)
    job_id = run_export.dispatch(export.id, user_id=current_user.id, source=("export", export.id))
    return _with_job(_export(export.id), job_id).to_dict(), 202


def _export(export_id: int):
    return exports.get_export(export_id, current_user.id, current_user.is_admin)


@api_route("/exports/status", ["GET"], responses={200: list[Export]})
def exports_status():
    """The caller's exports (an admin's: all)"""
    return [e.to_dict() for e in exports.exports_of(current_user.id, current_user.is_admin)]


@api_route("/exports/<int:export_id>/status", ["GET"], responses={200: Export})
def export_status(export_id: int):
    """One export (owner or admin; others 404)"""
    return _export(export_id).to_dict()


# The media type of each export format, as sent and as described.
EXPORT_TYPES = {
    "csv": "text/csv",
    "jsonl": "application/x-ndjson",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def send_export(export):
    """The export's file; Conflict while it is not ready (or after it expired)."""
    if export.status != "completed" or not export.path or not Path(export.path).exists():
        raise Conflict(f"export {export.id} is {export.status}; no file to download")
    return send_file(
        export.path,
        mimetype=EXPORT_TYPES.get(export.format, "application/octet-stream"),
        as_attachment=True,
        download_name=Path(export.path).name,
    )


@api_route(
    "/exports/<int:export_id>/download",
    ["GET"],
    responses={200: None},
    media={
        200: {
            media_type: {"schema": {"type": "string", "format": "binary"}}
            for media_type in EXPORT_TYPES.values()
        }
    },
    errors=[409],
)
def download_export(export_id: int):
    """The export's file (owner or admin); 409 until it is ready"""
    return send_export(_export(export_id))
