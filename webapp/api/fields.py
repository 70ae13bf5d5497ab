"""Annotated field types for the API's models, built on the bounded converters in webapp.boundary.

Query strings arrive as text, so their types convert with the boundary's converters (which raise
``BadRequest`` naming the parameter). JSON bodies are validated strictly: ``true`` is not a
number and ``"5"`` is not an integer. Each type carries the JSON Schema that describes it, so the
OpenAPI document states the same bounds the code enforces.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo
from pydantic_core import PydanticCustomError, PydanticUseDefault

from webapp import boundary
from webapp.boundary import MAX_ID, MAX_TEXT

# Text without NUL, which PostgreSQL cannot store; stated in the schema so generated data obeys it.
NO_NUL = r"^[^\u0000]*$"
DATE_TIME = {"format": "date-time"}


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and value.strip() == "":
        return None
    return value


def _query_id(value: Any, info: ValidationInfo) -> int | None:
    value = _blank_to_none(value)
    return None if value is None else boundary.record_id(value, info.field_name)


def _query_text(value: Any, info: ValidationInfo) -> str | None:
    value = _blank_to_none(value)
    return None if value is None else boundary.text(value, info.field_name).strip()


def _query_time(value: Any, info: ValidationInfo) -> datetime | None:
    value = _blank_to_none(value)
    return None if value is None else boundary.moment(value, info.field_name)


def _query_days(value: Any, info: ValidationInfo) -> int:
    value = _blank_to_none(value)
    if value is None:
        raise boundary.BadRequest(f"{info.field_name} is required", field=info.field_name)
    return boundary.day_count(value, info.field_name)


def query_limit(maximum: int) -> Any:
    """A page size from the query string: 1 … ``maximum``."""

    def convert(value: Any, info: ValidationInfo) -> Any:
        if _blank_to_none(value) is None:
            raise PydanticUseDefault()
        return boundary.whole_number(value, info.field_name, minimum=1, maximum=maximum)

    return Annotated[Annotated[int, Field(ge=1, le=maximum)], BeforeValidator(convert)]


# -- query-string values (absent or blank: None) -----------------------------------------------

QueryId = Annotated[Annotated[int, Field(ge=1, le=MAX_ID)] | None, BeforeValidator(_query_id)]
QueryText = Annotated[
    Annotated[str, Field(max_length=MAX_TEXT, pattern=NO_NUL)] | None,
    BeforeValidator(_query_text),
]
QueryTime = Annotated[datetime | None, BeforeValidator(_query_time)]
QueryDays = Annotated[
    Annotated[int, Field(ge=0, le=boundary.MAX_DAYS)], BeforeValidator(_query_days)
]

# -- values in JSON bodies and responses --------------------------------------------------------

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Count = Annotated[int, Field(ge=0)]
Timestamp = Annotated[str, Field(json_schema_extra=DATE_TIME)]


def _json_integer(value: Any) -> Any:
    # JSON Schema counts 2460.0 as an integer, so it is one here too; a boolean never is.
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "Input should be a valid integer, not a boolean")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def body_int(minimum: int, maximum: int) -> Any:
    """A whole number in a JSON body, within [minimum, maximum]."""
    return Annotated[Annotated[int, Field(ge=minimum, le=maximum)], BeforeValidator(_json_integer)]


def _text_only(value: Any) -> Any:
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "Input should be a string")
    return value


def choice(values: Iterable[str]) -> Any:
    """One of ``values`` in a JSON body: another type is malformed (400), another word breaks a
    rule (422)."""
    return Annotated[Literal[tuple(values)], BeforeValidator(_text_only)]


def body_text(max_length: int) -> Any:
    """Text in a JSON body: no NUL, at most ``max_length`` characters."""
    return Annotated[str, Field(max_length=max_length, pattern=NO_NUL)]
