"""Pydantic's validation errors in the API's own words: one sentence that names the field,
says what it must be and what was sent, in the same style as the boundary's converters
("limit must be at most 500"), never a Python repr."""

from __future__ import annotations

import json
import re
from typing import Any

# An enum member as pydantic prints it in a Literal's list: <JobStatus.PENDING: 'pending'>.
ENUM_REPR = re.compile(r"<\w+\.\w+: ('[^']*')>")


def plain(text: str) -> str:
    """``text`` with every enum repr replaced by its value."""
    return ENUM_REPR.sub(r"\1", text)


def shown(value: Any) -> str:
    """A value a client sent, as they would recognise it (JSON for bodies, short)."""
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:40] + "…"
        return repr(text)
    if isinstance(value, bool) or value is None or isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def _kind(value: Any) -> str:
    """A value of the wrong type, as in "must be text, not the number 5"."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return f"the number {value}"
    return shown(value)


def _choices(expected: str) -> str:
    """pydantic's "'a', 'b' or 'c'" as "one of 'a', 'b' or 'c'" (two: "'a' or 'b'")."""
    expected = plain(expected)
    return f"one of {expected}" if "," in expected else expected


def reason(problem: dict[str, Any], accepted: list[str], where: str) -> str:
    """What is wrong with one field, as the rest of a sentence that starts with its name."""
    kind = problem["type"]
    ctx = problem.get("ctx") or {}
    value = problem.get("input")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        noun = "parameter" if where == "query" else "field"
        known = f"; it takes {', '.join(accepted)}" if accepted else ""
        return f"is not a {noun} of this request{known}"
    if kind in ("literal_error", "enum"):
        return f"must be {_choices(str(ctx.get('expected', '')))}, not {shown(value)}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be a whole number, not {shown(value)}"
    if kind in ("float_type", "float_parsing", "finite_number"):
        return f"must be a number, not {shown(value)}"
    if kind in ("string_type", "str_type"):
        return f"must be text, not {_kind(value)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false, not {_kind(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be a JSON object, not {_kind(value)}"
    if kind in ("list_type", "tuple_type", "set_type"):
        return f"must be a list, not {_kind(value)}"
    if kind in ("greater_than_equal", "greater_than"):
        bound = ctx.get("ge", ctx.get("gt"))
        return f"must be at least {bound}" if kind.endswith("equal") else f"must be above {bound}"
    if kind in ("less_than_equal", "less_than"):
        bound = ctx.get("le", ctx.get("lt"))
        return f"must be at most {bound}" if kind.endswith("equal") else f"must be below {bound}"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        least = ctx.get("min_length", 1)
        return "must not be empty" if least == 1 else f"must be at least {least} characters"
    if kind == "string_pattern_mismatch" and "\\u0000" in str(ctx.get("pattern", "")):
        return "must not contain a NUL character"
    # Anything rarer: pydantic's sentence, its "Input" replaced by the field's name.
    message = plain(problem["msg"])
    return re.sub(r"^(Input|Value|String) should", "should", message)
