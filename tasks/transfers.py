"""Imports and exports as tracked background jobs."""

from huey import crontab

from jobkit import locks
from jobkit.context import JobCancelled, PermanentError, app_context, current_job
from jobkit.reserved import periodic_task
from jobkit.tracking import CONSUMER_ID, tracked_task
from webapp.extensions import db
from webapp.models.transfers import Export, Import
from webapp.services import exports, imports
from webapp.services.files import FileRefused

CANCELLED = "Cancelled; retry the job to continue from where it stopped."


@tracked_task(queue="default", tags=("import",), rerun_if_lost=True)
def run_import(import_id: int) -> str:
    """Run an import; safe to re-run, as a run continues after the rows already stored."""
    job = current_job()
    job.link("import", import_id)
    record = db.session.get(Import, import_id)
    job.tag(record.importer)
    record.job_log_id = job.id
    db.session.commit()
    try:
        record = imports.run_import(import_id, report=job.report)
    except FileRefused as exc:
        raise PermanentError(str(exc)) from exc
    except JobCancelled:
        imports.end_import(import_id, "cancelled", CANCELLED)
        raise
    kind = "Dry run" if record.dry_run else "Import"
    return (
        f"{kind}: {record.total_rows} rows, {record.created_rows} created, "
        f"{record.updated_rows} updated, {record.failed_rows} refused."
    )


@tracked_task(queue="low", tags=("export",), rerun_if_lost=True)
def run_export(export_id: int) -> str:
    """Write an export; safe to re-run, as a run writes its file anew."""
    job = current_job()
    job.link("export", export_id)
    export = db.session.get(Export, export_id)
    job.tag(export.dataset)
    export.job_log_id = job.id
    db.session.commit()
    try:
        export = exports.write_export(export_id, report=job.report)
    except JobCancelled:
        exports.end_export(export_id, "cancelled", "Cancelled.")
        raise
    return f"Exported {export.rows} {export.dataset} rows as {export.format}."


@periodic_task(crontab(minute="41"))
def expire_exports() -> None:
    """Every hour, delete the files of exports past their expiry."""
    with app_context():
        if locks.first_this_minute("expire_exports", CONSUMER_ID):
            exports.delete_expired()
