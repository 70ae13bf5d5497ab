"""Reading uploaded CSV and XLSX files row by row, refusing what cannot be read."""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

from openpyxl import load_workbook

from webapp.exceptions import Invalid

SNIFF_BYTES = 64 * 1024
# The longest field a CSV may hold (csv's own limit, said here so that the message can name it).
FIELD_LIMIT = 128 * 1024
csv.field_size_limit(FIELD_LIMIT)


class FileRefused(Invalid):
    """The file cannot be imported; the message says why."""


def _encoding(path: Path) -> str:
    """How the whole file is encoded: UTF-8 (with or without BOM), or Latin-1 when it is not
    UTF-8 and never was. FileRefused for a binary file, or one that is UTF-8 and then is not
    (two encodings in one file cannot be read either way)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8, seen_non_ascii, offset, lines = True, False, 0, 1
    with open(path, "rb") as f:
        while chunk := f.read(SNIFF_BYTES):
            if b"\x00" in chunk:
                raise FileRefused("the file is binary, not CSV or XLSX")
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    if seen_non_ascii or not chunk[: exc.start].isascii():
                        line = lines + chunk[: exc.start].count(b"\n")
                        raise FileRefused(
                            f"line {line} is not UTF-8 (byte {offset + exc.start + 1}), though "
                            "the lines before it are; save the whole file as UTF-8"
                        ) from None
                    utf8 = False
                seen_non_ascii = seen_non_ascii or not chunk.isascii()
            offset += len(chunk)
            lines += chunk.count(b"\n")
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            if seen_non_ascii:
                raise FileRefused("the file ends in the middle of a UTF-8 character") from None
            utf8 = False
    return "utf-8-sig" if utf8 else "latin-1"


def is_xlsx(path: Path) -> bool:
    """A spreadsheet by name, or by its zip signature whatever its name."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return True
    with open(path, "rb") as f:
        return f.read(4) == b"PK\x03\x04" and zipfile.is_zipfile(path)


def _dialect(sample: str) -> type[csv.Dialect]:
    """Excel's CSV rules (quotes doubled inside quotes) with the delimiter the header uses."""
    try:
        delimiter = csv.Sniffer().sniff(sample.split("\n", 1)[0] + "\n", ",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    return type("Sniffed", (csv.excel,), {"delimiter": delimiter})


def read_table(path: Path) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """The header and an iterator of (row number as in the file, row) for a CSV or XLSX file.

    The file's encoding is decided from all of it; a line that cannot be read raises
    FileRefused when the iterator reaches it (``check_table`` reads a file through once).
    """
    if path.stat().st_size == 0:
        raise FileRefused("the file is empty")
    if is_xlsx(path):
        return _read_xlsx(path)
    encoding = _encoding(path)
    with open(path, encoding=encoding, newline="") as f:
        dialect = _dialect(f.read(SNIFF_BYTES))
    handle = open(path, encoding=encoding, newline="")  # noqa: SIM115 - closed by the iterator
    reader = csv.reader(handle, dialect)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        handle.close()
        raise FileRefused("the file is empty") from None
    except csv.Error as exc:
        handle.close()
        raise FileRefused(_csv_problem(exc, 1)) from None
    if not any(header):
        handle.close()
        raise FileRefused("the first line must name the columns")

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        with handle:
            number = 1
            while True:
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    raise FileRefused(_csv_problem(exc, reader.line_num)) from None
                number += 1
                if not any(v.strip() for v in values):
                    continue
                yield number, dict(zip(header, (v.strip() for v in values), strict=False))

    return header, rows()


def _csv_problem(exc: csv.Error, line: int) -> str:
    if "field limit" in str(exc):
        return f"line {line} has a field longer than {FIELD_LIMIT // 1024} KB"
    return f"line {line} cannot be read as CSV ({exc})"


def check_table(path: Path) -> tuple[list[str], int]:
    """Read the whole file once: its header and how many rows it has; FileRefused, saying
    where, for anything in it that cannot be read."""
    header, rows = read_table(path)
    count = 0
    try:
        for _ in rows:
            count += 1
    finally:
        rows.close()
    return header, count


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
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a broken file
        workbook.close()
        raise FileRefused(f"the spreadsheet cannot be read ({type(exc).__name__})") from None

    def cell(value) -> str:
        if value is None:
            return ""
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value).strip()

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        number = 1
        try:
            while True:
                try:
                    values = next(rows_iter)
                except StopIteration:
                    return
                except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds
                    raise FileRefused(
                        f"row {number + 1} of the spreadsheet cannot be read ({type(exc).__name__})"
                    ) from None
                number += 1
                if all(v is None or str(v).strip() == "" for v in values):
                    continue
                row = dict(zip(header, (cell(v) for v in values), strict=False))
                if any("\x00" in v for v in row.values()):
                    raise FileRefused(f"row {number} of the spreadsheet holds a NUL character")
                yield number, row
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
