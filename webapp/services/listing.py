"""One filter object per list: what a list shows (its filters, its sort and its page), read from
the query string and checked once, then used by the page, its bulk actions and the API alike.
The state lives in the query string, so a sorted, filtered page is a link.

A list is a frozen dataclass deriving from ``ListFilter``: its fields are its filters (plus
``sort``, and ``page`` or ``cursor``); ``PARSERS`` says how each query-string value is read
(a parser raises ValueError in words); ``SORTS`` names the columns it may be sorted by. Built
with keywords (the API, the CLI, a task) or from a query string (``from_args``), the object
checks itself, so a value that the page refuses is refused everywhere, as a 400 with words.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, tzinfo
from typing import Any, ClassVar, Self

from flask import current_app
from sqlalchemy import Select

from webapp import boundary
from webapp.config import DEFAULT_PAGE_SIZES
from webapp.exceptions import BadRequest
from webapp.extensions import db
from webapp.models.base import query_time

# The smaller lists' page size (schedules, imports, exports, integrations) unless configured.
PAGE_SIZE = DEFAULT_PAGE_SIZES["schedules"]
# Far past any real list, and an offset (page × size) that a 64-bit integer holds.
MAX_PAGE = 1_000_000

Parser = Callable[[str], Any]


class ListQueryError(BadRequest):
    """A filter, sort or page that this list does not offer."""


ListingError = ListQueryError  # the name the lists used before they shared one base


def page_size(list_name: str) -> int:
    """How many rows a page of ``list_name`` shows: ``PAGE_SIZES[list_name]``, or the older
    one-list setting ``<LIST>_PAGE_SIZE`` (``JOBS_PAGE_SIZE``) when an app sets it."""
    config = current_app.config
    return int(
        config.get(f"{list_name.upper()}_PAGE_SIZE")
        or config.get("PAGE_SIZES", {}).get(list_name)
        or DEFAULT_PAGE_SIZES[list_name]
    )


# Parsers: the text of one query-string value → the value, or ValueError saying why not.


def text(max_length: int = 200) -> Parser:
    def parse(raw: str) -> str:
        if "\x00" in raw:
            raise ValueError("must not contain a NUL character")
        if len(raw) > max_length:
            raise ValueError(f"must be at most {max_length} characters")
        return raw

    return parse


def choice(values: Iterable[str] | Callable[[], Iterable[str]]) -> Parser:
    """One of ``values`` (or of what a callable returns, for lists registered at start-up)."""

    def parse(raw: str) -> str:
        allowed = list(values() if callable(values) else values)
        if raw not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}, not {raw[:40]!r}")
        return raw

    return parse


def record_id(raw: str) -> int:
    """A record id or keyset cursor: a whole number from 1 to boundary.MAX_ID."""
    try:
        return boundary.record_id(raw, "it")
    except BadRequest as exc:
        raise ValueError(str(exc).removeprefix("it ")) from None


def page_number(raw: str) -> int:
    valid = raw.isascii() and raw.isdigit() and len(raw) <= len(str(MAX_PAGE))
    if not valid or not 1 <= int(raw) <= MAX_PAGE:
        raise ValueError(f"must be a whole number from 1 to {MAX_PAGE}, not {raw[:40]!r}")
    return int(raw)


def moment(raw: str) -> datetime:
    """An ISO 8601 time (or a datetime-local field's value), UTC unless it names an offset."""
    try:
        return boundary.moment(raw, "it")
    except BadRequest:
        raise ValueError(
            f"Not a valid datetime value. {raw[:40]!r} is not an ISO 8601 time such as"
            " 2026-01-31T09:30."
        ) from None


def moment_in(raw: str, zone: tzinfo) -> datetime:
    """A time as ``moment`` reads it, but one without an offset is a wall time in ``zone`` (what
    a viewer types into a page's datetime field)."""
    try:
        wall = datetime.fromisoformat(raw)
    except ValueError:
        return moment(raw)  # its message
    if wall.tzinfo is not None:
        return moment(raw)
    try:
        return moment(wall.replace(tzinfo=zone).astimezone(UTC).isoformat())
    except OverflowError:
        raise ValueError(f"{raw[:40]!r} is outside the years this console can show") from None


def flag(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "on", "yes"):
        return True
    if lowered in ("0", "false", "off", "no"):
        return False
    raise ValueError(f"must be 1 or 0, not {raw[:40]!r}")


def query_text(value: Any) -> Any:
    """A value as it is written back into a query string."""
    if isinstance(value, datetime):
        return query_time(value)
    if isinstance(value, bool):
        return "1" if value else "0"
    return value


@dataclass(frozen=True)
class ListFilter:
    """The base of every list's filter object (see the module's docstring)."""

    LIST: ClassVar[str] = ""  # its key in PAGE_SIZES
    PARSERS: ClassVar[Mapping[str, Parser]] = {}
    LABELS: ClassVar[Mapping[str, str]] = {}  # how a problem names a field, when not its name
    SORTS: ClassVar[Mapping[str, Any]] = {}  # sort name → column
    # Fields that are part of where a list is (sort, page, cursor), not of what it shows.
    POSITION: ClassVar[tuple[str, ...]] = ("sort", "page", "cursor")
    # Fields always written into the list's links, even at their default (the sort).
    ALWAYS_IN_LINKS: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        self.check()

    @classmethod
    def from_args(cls, args: Mapping[str, str], zone: tzinfo | None = None, **context: Any) -> Self:
        """The filter object of a query string (or a submitted form); ListQueryError naming
        every value that cannot be used. ``zone``: where a time without an offset is read (the
        viewer's, on a page); UTC without it (the API)."""
        filters, problems = cls.read(args, zone, **context)
        if problems:
            wrong = [name for name in cls.PARSERS if cls._names(name, problems)]
            field = wrong[0] if len(wrong) == 1 else None
            raise ListQueryError("; ".join(problems), field=field)
        return filters

    @classmethod
    def read(
        cls, args: Mapping[str, str], zone: tzinfo | None = None, **context: Any
    ) -> tuple[Self, list[str]]:
        """The filter object of the values that can be used, and what is wrong with the others
        (one line each, named as the page labels the field): for a page that shows its form
        again, with what was typed and what is wrong, and no rows."""
        values: dict[str, Any] = {}
        problems: list[str] = []
        for name, parse in cls.PARSERS.items():
            raw = (args.get(name) or "").strip()
            if not raw:
                continue
            try:
                values[name] = moment_in(raw, zone) if parse is moment and zone else parse(raw)
            except ValueError as exc:
                problems.append(cls._problem(name, str(exc)))
        try:
            return cls(**values, **context), problems
        except ListQueryError as exc:
            problems.append(str(exc))
        try:
            kept = {k: v for k, v in values.items() if k not in cls.POSITION}
            return cls(**kept, **context), problems
        except ListQueryError:
            return cls(**context), problems

    @classmethod
    def _names(cls, name: str, problems: list[str]) -> bool:
        """Whether one of ``problems`` is about the field ``name``."""
        label = cls.LABELS.get(name)
        return any(p.startswith(f"{label}: " if label else f"{name} ") for p in problems)

    @classmethod
    def _problem(cls, name: str, message: str) -> str:
        """ "Created after: Not a valid …" for a field with a page label, else "page must …"."""
        if name in cls.LABELS:
            return f"{cls.LABELS[name]}: {message[:1].upper()}{message[1:]}"
        return f"{name} {message}"

    def check(self) -> None:
        """ListQueryError for a value no query string could give (the API and CLI build the
        object with keywords, so they are checked here too)."""
        sort = getattr(self, "sort", None)
        if self.SORTS and sort is not None and sort.lstrip("-") not in self.SORTS:
            raise ListQueryError(
                f"sort must be one of {', '.join(self.SORTS)} (with - for descending)"
            )
        page = getattr(self, "page", 1)
        if not (isinstance(page, int) and 1 <= page <= MAX_PAGE):
            raise ListQueryError(f"page must be a whole number from 1 to {MAX_PAGE}")

    def _set_values(self) -> dict[str, Any]:
        defaults = {f.name: f.default for f in fields(self)}
        return {
            name: query_text(getattr(self, name))
            for name in self.PARSERS
            if getattr(self, name, None) not in (None, "")
            and (name in self.ALWAYS_IN_LINKS or getattr(self, name) != defaults.get(name))
        }

    @property
    def filters(self) -> dict[str, Any]:
        """The filters that are set (not the sort or page), as query-string values."""
        return {k: v for k, v in self._set_values().items() if k not in self.POSITION}

    def as_query(self) -> dict[str, Any]:
        """What this list shows, as query-string values: the filters set and the sort when
        it is not the default, or is ALWAYS_IN_LINKS (no page or cursor: that is where it is,
        not what it shows)."""
        return {k: v for k, v in self._set_values().items() if k not in ("page", "cursor")}

    def query(self, **changes: Any) -> dict[str, Any]:
        """This list's query-string values with some changed (None drops one)."""
        values = self._set_values()
        values.update(changes)
        if values.get("page") == 1:
            values.pop("page")
        return {key: value for key, value in values.items() if value not in (None, "")}

    def sorted_by(self, column: str) -> dict[str, Any]:
        """The query for a column heading: sort by it (ascending first), or flip it when it is
        the sort already."""
        sort = getattr(self, "sort", "")
        new_sort = f"-{column}" if sort == column else column
        return self.query(sort=new_sort, page=None, cursor=None)

    def arrow(self, column: str) -> str:
        sort = getattr(self, "sort", "")
        if sort.lstrip("-") != column:
            return ""
        return " ↓" if sort.startswith("-") else " ↑"

    def page_size(self) -> int:
        return page_size(self.LIST)

    def statement(self) -> Select:
        """The rows this list shows, unordered (each list says how)."""
        raise NotImplementedError

    def page_of(self, id_column: Any, stmt: Select | None = None) -> tuple[list[Any], bool]:
        """One page of the list in its sort (ties broken by id); True when more follow."""
        stmt = self.statement() if stmt is None else stmt
        sort = self.sort
        column = self.SORTS[sort.lstrip("-")]
        descending = sort.startswith("-")
        order = [column.desc() if descending else column.asc()]
        order.append(id_column.desc() if descending else id_column.asc())
        size = self.page_size()
        stmt = stmt.order_by(*order).offset((getattr(self, "page", 1) - 1) * size).limit(size + 1)
        rows = list(db.session.scalars(stmt))
        return rows[:size], len(rows) > size
