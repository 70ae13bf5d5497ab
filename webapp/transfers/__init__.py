"""Imports of CSV/XLSX files and exports built in the background: pages and commands."""

from flask import url_for

from webapp.areas import Area, NavEntry, RecordPage, page_of
from webapp.models.transfers import Export, Import
from webapp.services.job_labels import names_by
from webapp.transfers.cli import exports_cli, imports_cli
from webapp.transfers.routes import bp

EXPORTS = "transfers.exports_page"

area = Area(
    "transfers",
    blueprint=bp,
    cli=[imports_cli, exports_cli],
    nav=[
        NavEntry(
            "Imports",
            "transfers.imports_page",
            order=60,
            current=("transfers.imports_page", "transfers.import_page"),
        ),
        NavEntry("Exports", "transfers.exports_page", order=70),
    ],
    record_pages=[
        RecordPage(
            "import", page_of("transfers.import_page", "import_id"), names_by(Import.filename)
        ),
        # Exports have no page of their own: their row on the exports list.
        RecordPage(
            "export",
            lambda export_id: url_for("transfers.exports_page", _anchor=f"export-{export_id}"),
            names_by(Export.dataset, "{} export"),
        ),
    ],
)
