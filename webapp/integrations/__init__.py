"""Per-user integrations with outside services: pages and the `integrations` commands."""

from webapp.areas import Area, NavEntry, RecordPage, page_of
from webapp.integrations.cli import integrations_cli
from webapp.integrations.routes import bp
from webapp.models.integrations import Integration
from webapp.services.job_labels import names_by

area = Area(
    "integrations",
    blueprint=bp,
    cli=[integrations_cli],
    nav=[NavEntry("Integrations", "integrations.index", order=90, current=("integrations.",))],
    record_pages=[
        RecordPage(
            "integration",
            page_of("integrations.show", "integration_id"),
            names_by(Integration.name),
        )
    ],
    schedulable=["integrations fetch"],
)
