"""The filter objects of the console's smaller lists (schedules, series, imports, exports,
integrations, batches), each a ``ListFilter``: its filters, sorts and page, checked once, and
``statement()`` the rows it shows. The job lists' are in ``webapp.services.jobs.filters``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, select

from webapp.models.integrations import Integration
from webapp.models.jobs import JobBatch
from webapp.models.transfers import EXPORT_STATUSES, IMPORT_STATUSES, Export, Import
from webapp.services import exports, importers, integrations, schedules, series
from webapp.services.listing import ListFilter, choice, page_number, text
from webapp.services.ownership import Viewer, owned_query

ON_OFF = ("on", "off")


@dataclass(frozen=True)
class ScheduleFilter(ListFilter):
    """/schedules: words in the name, command or description; on or off."""

    LIST = "schedules"
    q: str | None = None
    state: str | None = None
    sort: str = "name"
    page: int = 1

    PARSERS = {"q": text(), "state": choice(ON_OFF), "sort": text(40), "page": page_number}
    SORTS = schedules.SCHEDULE_SORTS
    ALWAYS_IN_LINKS = ("sort",)

    def statement(self) -> Select:
        return schedules.schedules_matching(self.q, self.state)


@dataclass(frozen=True)
class SeriesFilter(ListFilter):
    """/series: a name, an id, a TVmaze or TheTVDB id."""

    LIST = "series"
    q: str | None = None
    sort: str = "-id"
    page: int = 1

    PARSERS = {"q": text(), "sort": text(40), "page": page_number}
    SORTS = series.SERIES_SORTS
    ALWAYS_IN_LINKS = ("sort",)

    def statement(self) -> Select:
        return series.series_matching(self.q or "")


IMPORT_SORTS = {
    "created_at": Import.created_at,
    "filename": Import.filename,
    "failed_rows": Import.failed_rows,
    "total_rows": Import.total_rows,
}
EXPORT_SORTS = {"created_at": Export.created_at, "rows": Export.rows, "size": Export.size}


@dataclass(frozen=True)
class ImportFilter(ListFilter):
    """/imports: the viewer's imports (every one, for an admin) by status and importer."""

    LIST = "imports"
    status: str | None = None
    importer: str | None = None
    sort: str = "-created_at"
    page: int = 1
    viewer: Viewer | None = None

    PARSERS = {
        "status": choice(IMPORT_STATUSES),
        "importer": choice(lambda: list(importers.IMPORTERS)),
        "sort": text(40),
        "page": page_number,
    }
    SORTS = IMPORT_SORTS
    ALWAYS_IN_LINKS = ("sort",)

    def statement(self) -> Select:
        stmt = _owned(Import, self.viewer)
        if self.status:
            stmt = stmt.where(Import.status == self.status)
        if self.importer:
            stmt = stmt.where(Import.importer == self.importer)
        return stmt


@dataclass(frozen=True)
class ExportFilter(ListFilter):
    """/exports: the viewer's exports (every one, for an admin) by status, dataset, format."""

    LIST = "exports"
    status: str | None = None
    dataset: str | None = None
    format: str | None = None
    sort: str = "-created_at"
    page: int = 1
    viewer: Viewer | None = None

    PARSERS = {
        "status": choice(EXPORT_STATUSES),
        "dataset": choice(lambda: list(exports.DATASETS)),
        "format": choice(exports.FORMATS),
        "sort": text(40),
        "page": page_number,
    }
    SORTS = EXPORT_SORTS
    ALWAYS_IN_LINKS = ("sort",)

    def statement(self) -> Select:
        stmt = _owned(Export, self.viewer)
        for name in ("status", "dataset", "format"):
            if getattr(self, name):
                stmt = stmt.where(getattr(Export, name) == getattr(self, name))
        return stmt


def _owned(model, viewer: Viewer | None) -> Select:
    if viewer is None:
        return select(model)
    return owned_query(model, viewer.user_id, viewer.is_admin)


INTEGRATION_SORTS = {
    "name": Integration.name,
    "service": Integration.service,
    "update_frequency_minutes": Integration.update_frequency_minutes,
    "last_successful_update_at": Integration.last_successful_update_at,
}


@dataclass(frozen=True)
class IntegrationFilter(ListFilter):
    """/integrations: the signed-in user's own integrations, by service and on/paused."""

    LIST = "integrations"
    service: str | None = None
    state: str | None = None
    sort: str = "name"
    page: int = 1
    user_id: int | None = None  # whose integrations (each user sees only their own)

    PARSERS = {
        "service": choice(lambda: list(integrations.PLUGINS)),
        "state": choice(ON_OFF),
        "sort": text(40),
        "page": page_number,
    }
    SORTS = INTEGRATION_SORTS
    ALWAYS_IN_LINKS = ("sort",)

    def statement(self) -> Select:
        stmt = select(Integration).where(Integration.user_id == self.user_id)
        if self.service:
            stmt = stmt.where(Integration.service == self.service)
        if self.state:
            stmt = stmt.where(Integration.active.is_(self.state == "on"))
        return stmt


@dataclass(frozen=True)
class BatchFilter(ListFilter):
    """/batches: the newest batches first, a page at a time."""

    LIST = "batches"
    sort: str = "-id"
    page: int = 1

    PARSERS = {"sort": text(40), "page": page_number}
    SORTS = {"id": JobBatch.id, "created_at": JobBatch.created_at}
    ALWAYS_IN_LINKS = ("sort",)

    def statement(self) -> Select:
        return select(JobBatch)
