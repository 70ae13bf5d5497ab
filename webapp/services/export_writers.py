"""Writing an export's rows: each column's values made cells once per export by its type
(spreadsheet formulas neutralised, times in ISO 8601 UTC, JSON as text), and the CSV, JSON
Lines and XLSX writers, which stream the rows in batches."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import date, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    Numeric,
    String,
    TypeDecorator,
    type_coerce,
)

from webapp.models.base import UTCDateTime, isoformat
from webapp.services.files import neutralise


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        # an export reads its times as the naive UTC they are stored as (see ``selected``)
        return _naive_utc_cell(value) if value.tzinfo is None else isoformat(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _cell(value: Any) -> Any:
    """A value for one spreadsheet cell: JSON columns as JSON text."""
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return neutralise(_plain(value))


_FORMULA_STARTS = frozenset(("=", "+", "-", "@", "\t", "\r"))


def _text_cell(value: str) -> str:
    return "'" + value if value[:1] in _FORMULA_STARTS else value  # as ``neutralise`` does


def _date_cell(value: date) -> str:
    return value.isoformat()


def _naive_utc_cell(value: datetime) -> str:
    return value.isoformat() + "Z"  # what ``isoformat`` gives for the same moment, made aware


def _stored_utc_cell(text: str) -> str:
    """A UTC time as SQLite stores it ("2026-12-01 10:00:00.250000") written as
    ``_naive_utc_cell`` writes the datetime it stands for, without making that datetime."""
    if len(text) == 26 and text[10] == " " and text[19] == ".":
        if text.endswith(".000000"):
            return f"{text[:10]}T{text[11:19]}Z"
        return f"{text[:10]}T{text[11:]}Z"
    return _naive_utc_cell(datetime.fromisoformat(text))  # any other shape a row may hold


def _utc_cell(dialect: str) -> Callable[[Any], str]:
    """How a UTC time column's values, as ``selected`` reads them, become cells."""
    return _stored_utc_cell if dialect == "sqlite" else _naive_utc_cell


def _converter(column: Any, dialect: str, spreadsheet: bool) -> Callable[[Any], Any] | None:
    """How one column's values become cells, chosen once per export by the column's type
    (what ``_cell`` does for any value, without asking each value what it is); None: as is.
    Not for a ``spreadsheet`` (JSON Lines): only times become text, the rest stays as it is."""
    kind = column.type
    if isinstance(kind, UTCDateTime):
        return _utc_cell(dialect)  # read by ``selected`` as naive UTC, or as SQLite's text
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    if not spreadsheet:
        return (
            isoformat
            if isinstance(kind, DateTime)
            else _date_cell
            if isinstance(kind, Date)
            else None
        )
    if isinstance(kind, Integer | Float | Numeric | Boolean):
        return None
    if isinstance(kind, DateTime):
        return isoformat
    if isinstance(kind, Date):
        return _date_cell
    if isinstance(kind, String) and not isinstance(kind, JSON):
        return _text_cell
    return _cell


def selected(model: Any, columns: tuple[str, ...], dialect: str) -> list:
    """The columns to select for an export: UTC timestamps read as the naive UTC they are
    stored as (on SQLite as the stored text itself, which its driver would otherwise parse
    into a datetime per value), so that no value is made aware only to be written out again."""
    chosen = []
    for name in columns:
        column = getattr(model, name)
        if isinstance(column.type, UTCDateTime):
            as_read = String() if dialect == "sqlite" else DateTime()
            column = type_coerce(column, as_read).label(name)
        chosen.append(column)
    return chosen


def cells_for(
    model: Any, columns: tuple[str, ...], dialect: str, spreadsheet: bool = True
) -> Callable[[tuple], list]:
    """A function from one row of ``columns`` (as ``selected`` reads them) to its cells: only
    the columns that need it are converted, and None stays None (the CSV writer leaves it
    empty). Not for a ``spreadsheet``: only the times are converted (JSON Lines)."""
    converters = [
        (i, f)
        for i, name in enumerate(columns)
        if (f := _converter(getattr(model, name), dialect, spreadsheet))
    ]

    def cells(row: tuple) -> list:
        values = list(row)
        for index, convert in converters:
            value = values[index]
            if value is not None:
                values[index] = convert(value)
        return values

    return cells


def _write_csv(path: Path, columns, rows, progress, cells) -> int:
    count = 0
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        while batch := [cells(row) for row in islice(rows, 10_000)]:
            writer.writerows(batch)
            count += len(batch)
            if len(batch) == 10_000:
                progress(count)
    return count


def _write_jsonl(path: Path, columns, rows, progress, cells) -> int:
    count = 0
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(dict(zip(columns, cells(row), strict=True)), default=str) + "\n")
            count += 1
            if count % 10_000 == 0:
                progress(count)
    return count


def _write_xlsx(path: Path, columns, rows, progress, cells) -> int:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("export")
    sheet.append(list(columns))
    count = 0
    for row in rows:
        # write-only cells starting with "=" would be formulas: neutralise them
        sheet.append(cells(row))
        count += 1
        if count % 10_000 == 0:
            progress(count)
    with open(path, "wb") as f:
        workbook.save(f)
    return count


WRITERS = {"csv": _write_csv, "jsonl": _write_jsonl, "xlsx": _write_xlsx}
