from flask import Blueprint, Response, abort, flash, redirect, request, url_for
from flask_login import current_user, login_required

from tasks.transfers import run_export
from webapp import boundary
from webapp.api.transfers import send_export, start_import_from_request
from webapp.boundary import MAX_ID
from webapp.models.transfers import Export, Import
from webapp.services import exports, importers, imports
from webapp.services.files import FileRefused
from webapp.services.jobs import jobs_for_record
from webapp.services.list_filters import ExportFilter, ImportFilter
from webapp.services.listing import ListFilter
from webapp.services.ownership import viewer_of
from webapp.templating import render_page
from webapp.transfers.forms import ExportForm, ImportForm

bp = Blueprint("transfers", __name__, url_prefix="/")


def _listed(kind: type[ListFilter], model) -> tuple[list, ListFilter, bool]:
    """The caller's records (all, for an admin) as the query string filters and sorts them."""
    listing = kind.from_args(request.args, viewer=viewer_of(current_user))
    rows, has_next = listing.page_of(model.id)
    return rows, listing, has_next


def imports_context(form: ImportForm | None = None) -> dict:
    rows, listing, has_next = _listed(ImportFilter, Import)
    return {
        "rows": rows,
        "listing": listing,
        "has_next": has_next,
        "importers": sorted(importers.IMPORTERS),
        "form": form or ImportForm(),
        "any_active": any(r.status in ("pending", "running") for r in rows),
    }


@bp.route("imports", methods=["GET", "POST"])
@login_required
def imports_page():
    if request.method == "GET":
        return render_page(
            "transfers/imports.html", ("import_table",), live=True, **imports_context()
        )
    if not current_user.can_operate:
        abort(403, "this needs the operator role")
    form = ImportForm()
    if form.validate_on_submit():
        try:
            record = start_import_from_request(form.dry_run.data)
        except (FileRefused, importers.ImportRequestError) as exc:
            form.file.errors = [*form.file.errors, str(exc)]
        else:
            flash(f"Importing {record.filename} (import {record.id}).", "success")
            return redirect(url_for("transfers.import_page", import_id=record.id))
    return render_page("transfers/imports.html", ("import_table",), **imports_context(form)), 422


def import_context(import_id: int) -> dict:
    record = imports.get_import(import_id, current_user.id, current_user.is_admin)
    after = boundary.whole_number(request.args.get("after") or 0, "after", maximum=MAX_ID)
    failed = imports.failed_rows(record.id, limit=50, after_row=after)
    return {
        "record": record,
        "failed": failed,
        "next_after": failed[-1].row_number if len(failed) == 50 else None,
        "jobs": jobs_for_record("import", record.id, 5, viewer_of(current_user)),
    }


@bp.route("imports/<int:import_id>")
@login_required
def import_page(import_id: int):
    return render_page(
        "transfers/import.html", ("import_status",), live=True, **import_context(import_id)
    )


@bp.route("imports/<int:import_id>/failed-rows.csv")
@login_required
def failed_rows_csv(import_id: int):
    record = import_context(import_id)["record"]
    return Response(
        imports.failed_rows_csv(record),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="import-{record.id}-failed.csv"'},
    )


def exports_context(form: ExportForm | None = None) -> dict:
    rows, listing, has_next = _listed(ExportFilter, Export)
    return {
        "rows": rows,
        "listing": listing,
        "has_next": has_next,
        "datasets": sorted(exports.DATASETS),
        "form": form or ExportForm(),
        "any_active": any(r.status in ("pending", "running") for r in rows),
    }


@bp.route("exports", methods=["GET", "POST"])
@login_required
def exports_page():
    if request.method == "GET":
        return render_page(
            "transfers/exports.html", ("export_table",), live=True, **exports_context()
        )
    if not current_user.can_operate:
        abort(403, "this needs the operator role")
    form = ExportForm()
    if form.validate_on_submit():
        filters = {
            "status": form.status.data,
            "since": form.since.data.isoformat() if form.since.data else None,
            "until": form.until.data.isoformat() if form.until.data else None,
            "search": form.search.data,
        }
        try:
            export = exports.start_export(
                form.dataset.data, form.format.data, filters, current_user.id
            )
        except exports.ExportError as exc:
            # the error goes under the field it is about (filters.status: the status box)
            field = getattr(form, (exc.field or "").removeprefix("filters."), form.dataset)
            field.errors = [*field.errors, exc.message]
        else:
            run_export.dispatch(export.id, user_id=current_user.id, source=("export", export.id))
            flash(f"Exporting {export.dataset} as {export.format}.", "success")
            return redirect(url_for("transfers.exports_page"))
    return render_page("transfers/exports.html", ("export_table",), **exports_context(form)), 422


@bp.route("exports/<int:export_id>/download")
@login_required
def download(export_id: int):
    return send_export(exports.get_export(export_id, current_user.id, current_user.is_admin))
