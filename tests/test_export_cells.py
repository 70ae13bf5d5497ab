"""Exports write each column by its type: the same cells as asking every value what it is
(formulas neutralised, ISO UTC times from year 1 to 9999, dates, JSON as text, empty for NULL)."""

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from webapp.extensions import db
from webapp.models.jobs import JobLog
from webapp.models.series import Series
from webapp.services import audit, exports
from webapp.services.export_writers import _cell, _plain

MOMENTS = [
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 30, tzinfo=UTC),  # no microseconds: none written
    None,
]
TEXTS = ["=SUM(A1)", "+1", "-x", "@me", "\tx", "plain", "Café ☕", "", None]


@pytest.fixture
def mixed(app):
    for i, text in enumerate(TEXTS):
        moment = MOMENTS[i % len(MOMENTS)]
        db.session.add(
            JobLog(
                task=f"t{i}",
                queue="default",
                status="failed" if i % 2 else "completed",
                progress=i * 10,
                attempts=1,
                max_attempts=3,
                message=text,
                error=TEXTS[-1 - i],
                source_type="series" if i % 3 == 0 else None,
                source_id=i if i % 3 == 0 else None,
                created_at=moment or datetime(2026, 1, 1, tzinfo=UTC),
                started_at=moment,
                finished_at=MOMENTS[(i + 1) % len(MOMENTS)],
                arguments={"args": [i], "kwargs": {}},
                payload={"text": text},
            )
        )
        db.session.add(
            Series(
                name=text,
                tvmaze_id=i + 1,
                premiered=[date(1, 1, 1), date(9999, 12, 31), None][i % 3],
                data_last_updated_at=moment,
            )
        )
        audit.record("thing.do", ("thing", i), changes={"before": text, "n": [i, None]})
    db.session.commit()


def expected(dataset: str) -> tuple[list, list]:
    spec = exports.DATASETS[dataset]
    objects = db.session.scalars(select(spec.model).order_by(spec.model.id)).all()
    return list(spec.columns), [[_cell(getattr(o, c)) for c in spec.columns] for o in objects]


def as_csv(header, rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


@pytest.mark.parametrize("dataset", ["job_logs", "series", "audit"])
def test_every_format_writes_the_cells_each_value_would_give(mixed, dataset):
    # every export is recorded first (the audit dataset then holds its entries too)
    started = {fmt: exports.start_export(dataset, fmt, {}, None).id for fmt in exports.FORMATS}
    header, rows = expected(dataset)
    assert rows  # the fixture made some
    done = exports.write_export(started["csv"])
    with open(done.path, newline="", encoding="utf-8") as f:
        assert f.read() == as_csv(header, rows)
    assert done.rows == len(rows)

    sheet = exports.write_export(started["xlsx"])
    table = [
        list(r)
        for r in load_workbook(sheet.path, read_only=True).active.iter_rows(values_only=True)
    ]
    assert table[0] == header

    # a sheet read back has no empty trailing cells, and an empty text reads as no value
    def plain(row):
        return [None if v in (None, "") else v for v in row] + [None] * (len(header) - len(row))

    assert [plain(row) for row in table[1:]] == [plain(row) for row in rows]

    lines = exports.write_export(started["jsonl"])
    spec = exports.DATASETS[dataset]
    objects = db.session.scalars(select(spec.model).order_by(spec.model.id)).all()
    assert [json.loads(line) for line in Path(lines.path).read_text().splitlines()] == [
        json.loads(json.dumps({c: _plain(getattr(o, c)) for c in spec.columns}, default=str))
        for o in objects
    ]


def test_times_are_iso_utc_from_year_1_to_9999(mixed):
    done = exports.write_export(exports.start_export("job_logs", "csv", {}, None).id)
    text = Path(done.path).read_text()
    assert "0001-01-01T00:00:00Z" in text and "9999-12-31T23:59:59.999999Z" in text
    assert "2026-03-29T01:30:00Z" in text and "'=SUM(A1)" in text
