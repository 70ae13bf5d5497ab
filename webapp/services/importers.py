"""Importers: the kinds of import (series, integrations), the columns each reads, how a row is
validated, and how a chunk of rows is saved."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import insert, select

from webapp.exceptions import Invalid
from webapp.extensions import db
from webapp.models.integrations import Integration
from webapp.models.series import Series
from webapp.services.files import FileRefused
from webapp.services.import_columns import Column, check_row
from webapp.services.integrations import IntegrationError, plugin_for


class ImportRequestError(Invalid):
    """An import request that cannot be carried out (unknown importer or id)."""


class Importer:
    """One kind of import: its columns, their types (checked row by row), and how to save."""

    name: ClassVar[str]
    label: ClassVar[str]
    required: ClassVar[tuple[str, ...]]
    optional: ClassVar[tuple[str, ...]] = ()
    # Columns accepted and not used (e.g. those an export of the same data adds).
    ignored: ClassVar[tuple[str, ...]] = ()
    # The columns a row is made of, typed, in the order their errors are listed.
    columns: ClassVar[tuple[Column, ...]]

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
        values, errors = check_row(self.columns, row)
        if errors:
            return None, errors
        return values, {}

    def save(self, values: dict, user_id: int | None, dry_run: bool) -> str:
        """Create or update a record; returns "created" or "updated" (nothing written if dry)."""
        raise NotImplementedError

    def save_many(self, values: list[dict], user_id: int | None, dry_run: bool) -> list[str]:
        """Save a chunk of rows; importers may do it in fewer queries."""
        return [self.save(v, user_id, dry_run) for v in values]


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
    columns = (
        Column("name", max_length=255),
        Column("tvmaze_id", "integer"),
        Column("tvdb_id", "integer"),
    )

    def validate(self, row: dict[str, str], user_id: int | None) -> tuple[dict | None, dict]:
        values, errors = super().validate(row, user_id)
        if values is not None and not values["tvmaze_id"] and not values["tvdb_id"]:
            return None, {"tvmaze_id": ["give a tvmaze_id or a tvdb_id"]}
        return values, errors

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
            db.session.execute(insert(Series.__table__), new_rows)
        db.session.flush()
    return outcomes


class IntegrationsImporter(Importer):
    name = "integrations"
    label = "Integrations, for the importing user (service, name, update_frequency_minutes, …)"
    required = ("service", "name", "update_frequency_minutes")
    optional = ("tvmaze_id", "url")
    columns = (
        Column("service", required=True),
        Column("name", required=True, max_length=100),
        Column("update_frequency_minutes", "integer", required=True),
        Column("tvmaze_id", "integer"),
        Column("url", "url"),
    )

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
