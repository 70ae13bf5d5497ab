import shutil
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from webapp.cli.output import Progress, echo_json, echo_table, json_option
from webapp.cli.params import DAY
from webapp.extensions import db
from webapp.models.transfers import Export, Import
from webapp.services import exports, importers, imports

imports_cli = AppGroup("imports", help="Import CSV or XLSX files.")
exports_cli = AppGroup("exports", help="Export datasets to CSV, JSON Lines or XLSX.")


def _listed(model, limit: int, as_json: bool, columns, row) -> None:
    records = db.session.scalars(select(model).order_by(model.id.desc()).limit(limit)).all()
    if as_json:
        echo_json([record.to_dict() for record in records])
    elif not records:
        click.echo(f"No {model.__tablename__}.")
    else:
        echo_table(columns, [row(record) for record in records])


def _at(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


@imports_cli.command("list")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@json_option
def list_imports(limit: int, as_json: bool) -> None:
    """Imports, newest first, with their counts."""
    _listed(
        Import,
        limit,
        as_json,
        ["ID", "IMPORTER", "FILE", "STATUS", "ROWS", "REFUSED", "CREATED"],
        lambda i: (
            i.id,
            i.importer,
            i.filename,
            i.status,
            f"{i.processed_rows}/{i.total_rows}",
            i.failed_rows,
            _at(i.created_at),
        ),
    )


@exports_cli.command("list")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@json_option
def list_exports(limit: int, as_json: bool) -> None:
    """Exports, newest first."""
    _listed(
        Export,
        limit,
        as_json,
        ["ID", "DATASET", "FORMAT", "STATUS", "ROWS", "CREATED"],
        lambda e: (e.id, e.dataset, e.format, e.status, e.rows, _at(e.created_at)),
    )


@imports_cli.command("run")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--importer", required=True, type=click.Choice(list(importers.IMPORTERS)))
@click.option("--dry-run", is_flag=True, help="Validate and count; write nothing.")
def run_import(file: Path, importer: str, dry_run: bool) -> None:
    """Import FILE now and print the counts and the refused rows."""
    with open(file, "rb") as stream:
        record = imports.store_upload(stream, file.name, importer, None, dry_run)
    with Progress(f"Importing {file.name}") as report:
        record = imports.run_import(record.id, report)
    label = "Dry run" if dry_run else "Imported"
    click.echo(
        f"{label} {file.name}: {record.total_rows} rows, {record.created_rows} created, "
        f"{record.updated_rows} updated, {record.failed_rows} refused."
    )
    refused = imports.failed_rows(record.id, limit=10_000)
    if refused:
        echo_table(
            ["ROW", "ERRORS"],
            [
                (r.row_number, "; ".join(f"{k}: {', '.join(v)}" for k, v in r.errors.items()))
                for r in refused
            ],
        )
        raise SystemExit(1)


@exports_cli.command("run")
@click.option("--dataset", required=True, type=click.Choice(list(exports.DATASETS)))
@click.option("--format", "fmt", required=True, type=click.Choice(exports.FORMATS))
@click.option("--status", help="Only rows with this status.")
@click.option("--since", type=DAY, help="Only rows from this date (YYYY-MM-DD).")
@click.option("--until", type=DAY, help="Only rows up to this date (YYYY-MM-DD).")
@click.option("--search", help="Only rows containing this text.")
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), help="Copy the file here as well."
)
def run_export(dataset, fmt, status, since, until, search, output: Path | None) -> None:
    """Export a dataset now and print the file's path."""
    days = {"since": since, "until": until}
    filters = {"status": status, "search": search}
    filters |= {name: day.date().isoformat() for name, day in days.items() if day}
    try:
        export = exports.start_export(dataset, fmt, {k: v for k, v in filters.items() if v}, None)
    except exports.ExportError as exc:
        # a filter refused in the API's words (filters.status) is the option it came from here
        if not (exc.field or "").startswith("filters."):
            raise
        raise click.BadParameter(exc.message, param_hint=f"--{exc.field.split('.')[1]}") from None
    with Progress(f"Exporting {dataset}") as report:
        export = exports.write_export(export.id, report)
    path = export.path
    if output is not None:
        shutil.copyfile(export.path, output)
        path = str(output)
    click.echo(path)
