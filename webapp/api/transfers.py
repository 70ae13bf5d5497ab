"""Imports and exports over the API."""

from pathlib import Path

from flask import Response, abort, jsonify, request, send_file
from flask_login import current_user

from tasks.transfers import run_export, run_import
from webapp.api.blueprint import bp
from webapp.auth import role_required
from webapp.errors import error_response
from webapp.models.users import Role
from webapp.services import exports, imports
from webapp.services.files import FileRefused
from webapp.values import parse_bool


def start_import_from_request(dry_run: bool):
    """Shared by the API and the page: store the upload and dispatch its job."""
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
    run_import.dispatch(record.id, user_id=current_user.id, source=("import", record.id))
    return imports.get_import(record.id)


@bp.post("/imports")
@role_required(Role.OPERATOR)
def create_import():
    dry_run = parse_bool(request.form.get("dry_run"), "dry_run")
    try:
        record = start_import_from_request(dry_run)
    except (FileRefused, imports.ImportRequestError) as exc:
        return error_response(422, str(exc), "invalid")
    return jsonify(record.to_dict()), 202


def _import(import_id: int):
    try:
        return imports.get_import(import_id, current_user.id, current_user.is_admin)
    except imports.ImportRequestError as exc:
        abort(404, str(exc))


@bp.get("/imports/<int:import_id>")
def get_import(import_id: int):
    return jsonify(_import(import_id).to_dict())


@bp.get("/imports/<int:import_id>/failed-rows")
def import_failed_rows(import_id: int):
    record = _import(import_id)
    if request.args.get("format") == "csv":
        return Response(
            imports.failed_rows_csv(record),
            mimetype="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="import-{record.id}-failed.csv"'
            },
        )
    if request.args.get("format") not in (None, "", "json"):
        abort(400, "format must be json or csv")
    return jsonify([row.to_dict() for row in imports.failed_rows(record.id, limit=100_000)])


@bp.post("/exports")
@role_required(Role.OPERATOR)
def create_export():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, 'send a JSON object: {"dataset", "format", "filters"}')
    try:
        export = exports.start_export(
            str(body.get("dataset")), str(body.get("format")), body.get("filters"), current_user.id
        )
    except exports.ExportError as exc:
        return error_response(422, str(exc), "invalid")
    run_export.dispatch(export.id, user_id=current_user.id, source=("export", export.id))
    return jsonify(_export(export.id).to_dict()), 202


def _export(export_id: int):
    try:
        return exports.get_export(export_id, current_user.id, current_user.is_admin)
    except exports.ExportError as exc:
        abort(404, str(exc))


@bp.get("/exports/status")
def exports_status():
    return jsonify(
        [e.to_dict() for e in exports.exports_of(current_user.id, current_user.is_admin)]
    )


@bp.get("/exports/<int:export_id>/status")
def export_status(export_id: int):
    return jsonify(_export(export_id).to_dict())


def send_export(export):
    """The export's file, or 409 while it is not ready (or after it expired)."""
    if export.status != "completed" or not export.path or not Path(export.path).exists():
        return error_response(409, f"export {export.id} is {export.status}; no file to download")
    return send_file(export.path, as_attachment=True, download_name=Path(export.path).name)


@bp.get("/exports/<int:export_id>/download")
def download_export(export_id: int):
    return send_export(_export(export_id))
