"""Reading uploaded CSV and XLSX files row by row, refusing what cannot be read."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

from openpyxl import load_workbook

from webapp.exceptions import Invalid

SNIFF_BYTES = 64 * 1024


class FileRefused(Invalid):
    """The file cannot be imported; the message says why."""


def _encoding(raw: bytes) -> str:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A cut-off multi-byte character at the end of the sample is still UTF-8.
        if exc.start < len(raw) - 4:
            return "latin-1"
    return "utf-8-sig"


def is_xlsx(path: Path) -> bool:
    """A spreadsheet by name, or by its zip signature whatever its name."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return True
    with open(path, "rb") as f:
        return f.read(4) == b"PK\x03\x04" and zipfile.is_zipfile(path)


def read_table(path: Path) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """The header and an iterator of (row number as in the file, row) for a CSV or XLSX file."""
    if path.stat().st_size == 0:
        raise FileRefused("the file is empty")
    if is_xlsx(path):
        return _read_xlsx(path)
    with open(path, "rb") as f:
        sample = f.read(SNIFF_BYTES)
    if b"\x00" in sample:
        raise FileRefused("the file is binary, not CSV or XLSX")
    encoding = _encoding(sample)
    text = sample.decode(encoding, errors="replace")
    try:
        dialect = csv.Sniffer().sniff(text.split("\n", 20)[0] + "\n", delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    handle = open(path, encoding=encoding, newline="")  # noqa: SIM115 - closed by the iterator
    reader = csv.reader(handle, dialect)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        handle.close()
        raise FileRefused("the file is empty") from None
    if not any(header):
        handle.close()
        raise FileRefused("the first line must name the columns")

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        with handle:
            for number, values in enumerate(reader, start=2):
                if not any(v.strip() for v in values):
                    continue
                yield number, dict(zip(header, (v.strip() for v in values), strict=False))

    return header, rows()


def _read_xlsx(path: Path) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise FileRefused(f"the spreadsheet cannot be read ({type(exc).__name__})") from None
    sheet = workbook.worksheets[0]
    rows_iter = sheet.iter_rows(values_only=True)
    try:
        header = ["" if h is None else str(h).strip() for h in next(rows_iter)]
    except StopIteration:
        workbook.close()
        raise FileRefused("the spreadsheet is empty") from None

    def cell(value) -> str:
        if value is None:
            return ""
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value).strip()

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        try:
            for number, values in enumerate(rows_iter, start=2):
                if all(v is None or str(v).strip() == "" for v in values):
                    continue
                yield number, dict(zip(header, (cell(v) for v in values), strict=False))
        finally:
            workbook.close()

    return header, rows()


def neutralise(value):
    """A cell a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_text(header: list[str], rows: list[list]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([neutralise(v) for v in row])
    return out.getvalue()
