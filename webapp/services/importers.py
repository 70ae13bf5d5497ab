"""Importers: the kinds of import (series, integrations), the columns each reads, how a row is
validated, and how a chunk of rows is saved."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from sqlalchemy import insert, select
from werkzeug.datastructures import MultiDict
from wtforms import Form, IntegerField, StringField
from wtforms.validators import URL, DataRequired, Length, NumberRange, Optional

from webapp.boundary import MAX_INTEGER
from webapp.exceptions import Invalid
from webapp.extensions import db
from webapp.models.integrations import Integration
from webapp.models.series import Series
from webapp.services.files import FileRefused
from webapp.services.integrations import IntegrationError, plugin_for

_forms = threading.local()


class ImportRequestError(Invalid):
    """An import request that cannot be carried out (unknown importer or id)."""


class Importer:
    """One kind of import: its columns, a WTForms form to validate a row, and how to save it."""

    name: ClassVar[str]
    label: ClassVar[str]
    required: ClassVar[tuple[str, ...]]
    optional: ClassVar[tuple[str, ...]] = ()
    # Columns accepted and not used (e.g. those an export of the same data adds).
    ignored: ClassVar[tuple[str, ...]] = ()
    form: ClassVar[type[Form]]

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
        wanted = self.required + self.optional
        # One form per importer and thread, filled anew for every row: making a WTForms form
        # (binding its fields) cost as much as validating and saving the row did.
        form = getattr(_forms, self.name, None)
        if form is None:
            form = self.form()
            setattr(_forms, self.name, form)
        form.process(formdata=MultiDict({k: v for k, v in row.items() if v and k in wanted}))
        if not form.validate():
            return None, {k: list(v) for k, v in form.errors.items()}
        return self.clean(form), {}

    def clean(self, form: Form) -> dict:
        return {name: field.data for name, field in form._fields.items()}

    def save(self, values: dict, user_id: int | None, dry_run: bool) -> str:
        """Create or update a record; returns "created" or "updated" (nothing written if dry)."""
        raise NotImplementedError

    def save_many(self, values: list[dict], user_id: int | None, dry_run: bool) -> list[str]:
        """Save a chunk of rows; importers may do it in fewer queries."""
        return [self.save(v, user_id, dry_run) for v in values]


class SeriesRowForm(Form):
    name = StringField(validators=[Optional(), Length(max=255)])
    tvmaze_id = IntegerField(validators=[Optional(), NumberRange(min=1, max=MAX_INTEGER)])
    tvdb_id = IntegerField(validators=[Optional(), NumberRange(min=1, max=MAX_INTEGER)])

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if ok and not self.tvmaze_id.data and not self.tvdb_id.data:
            self.tvmaze_id.errors = ["give a tvmaze_id or a tvdb_id"]
            return False
        return ok


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
    form = SeriesRowForm

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
            db.session.execute(insert(Series), new_rows)
        db.session.flush()
    return outcomes


class IntegrationRowForm(Form):
    service = StringField(validators=[DataRequired()])
    name = StringField(validators=[DataRequired(), Length(max=100)])
    update_frequency_minutes = IntegerField(
        validators=[DataRequired(), NumberRange(min=1, max=MAX_INTEGER)]
    )
    tvmaze_id = IntegerField(validators=[Optional(), NumberRange(min=1, max=MAX_INTEGER)])
    url = StringField(validators=[Optional(), URL(require_tld=False)])


class IntegrationsImporter(Importer):
    name = "integrations"
    label = "Integrations, for the importing user (service, name, update_frequency_minutes, …)"
    required = ("service", "name", "update_frequency_minutes")
    optional = ("tvmaze_id", "url")
    form = IntegrationRowForm

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
            f"unknown importer {name!r}; use one of {', '.join(IMPORTERS)}"
        ) from None
