"""Imports and exports as tracked background jobs."""

from huey import crontab

from jobkit import locks
from jobkit.context import PermanentError, app_context, current_job
from jobkit.queue import huey
from jobkit.tracking import CONSUMER_ID, tracked_task
from webapp.extensions import db
from webapp.models.transfers import Export, Import
from webapp.services import exports, imports
from webapp.services.files import FileRefused


@tracked_task(queue="default", tags=("import",))
def run_import(import_id: int) -> str:
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
    kind = "Dry run" if record.dry_run else "Import"
    return (
        f"{kind}: {record.total_rows} rows, {record.created_rows} created, "
        f"{record.updated_rows} updated, {record.failed_rows} refused."
    )


@tracked_task(queue="low", tags=("export",))
def run_export(export_id: int) -> str:
    job = current_job()
    job.link("export", export_id)
    export = db.session.get(Export, export_id)
    job.tag(export.dataset)
    export.job_log_id = job.id
    db.session.commit()
    export = exports.write_export(export_id, report=job.report)
    return f"Exported {export.rows} {export.dataset} rows as {export.format}."


@huey.periodic_task(crontab(minute="41"))
def expire_exports() -> None:
    """Every hour, delete the files of exports past their expiry."""
    with app_context():
        if locks.first_this_minute("expire_exports", CONSUMER_ID):
            exports.delete_expired()
