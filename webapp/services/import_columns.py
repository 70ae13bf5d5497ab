"""Typed columns of an import: text, a whole number or a URL, each checked in plain Python.

A row is checked as the WTForms row forms checked it (the same values, the same messages),
without the cost of filling a form for every row: a column that is left empty is absent; an
optional column that is blank is not checked further; a required one that is missing, blank,
zero or not a number is "This field is required."; a number outside its range, a text too long
or a URL that is none say so. A text that is not a whole number, in an optional number column,
says so in one sentence (the form gave two: "Not a valid integer value." and the range).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wtforms.validators import URL, ValidationError

from webapp.boundary import MAX_INTEGER

REQUIRED = "This field is required."
NOT_A_NUMBER = "Not a valid integer value: give a whole number between {minimum} and {maximum}."
OUT_OF_RANGE = "Number must be between {minimum} and {maximum}."
TOO_LONG = "Field cannot be longer than {max_length} characters."

_url_check = URL(require_tld=False)


class _Field:
    """What WTForms' URL check reads of a field: its data and a translation function."""

    __slots__ = ("data",)

    def __init__(self, data: str) -> None:
        self.data = data

    @staticmethod
    def gettext(text: str) -> str:
        return text


@dataclass(frozen=True)
class Column:
    """One column a row may hold: ``kind`` "text", "integer" or "url"."""

    name: str
    kind: str = "text"
    required: bool = False
    max_length: int | None = None
    minimum: int = 1
    maximum: int = MAX_INTEGER

    def clean(self, raw: str | None) -> tuple[Any, str | None]:
        """(value, None), or (value, the message saying what is wrong); ``raw`` is None when
        the row leaves the column empty."""
        value: Any = raw
        not_a_number = False
        if self.kind == "integer":
            value = None
            if raw is not None:
                try:
                    value = int(raw)
                except (ValueError, TypeError):
                    not_a_number = True
        if self.required:
            if not value or (isinstance(value, str) and not value.strip()):
                return value, REQUIRED
        elif raw is None or (isinstance(raw, str) and not raw.strip()):
            return value, None
        if self.kind == "integer":
            if not_a_number:
                return None, NOT_A_NUMBER.format(minimum=self.minimum, maximum=self.maximum)
            if value < self.minimum or value > self.maximum:
                return value, OUT_OF_RANGE.format(minimum=self.minimum, maximum=self.maximum)
            return value, None
        if self.max_length is not None and len(value) > self.max_length:
            return value, TOO_LONG.format(max_length=self.max_length)
        if self.kind == "url":
            try:
                _url_check(None, _Field(value))
            except ValidationError as exc:
                return value, str(exc)
        return value, None


def check_row(
    columns: tuple[Column, ...], row: dict[str, str]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Every column's value, and {column: [message]} for those that are wrong."""
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for column in columns:
        raw = row.get(column.name)
        value, problem = column.clean(raw if raw else None)
        values[column.name] = value
        if problem is not None:
            errors[column.name] = [problem]
    return values, errors
