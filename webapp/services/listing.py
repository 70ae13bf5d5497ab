"""Sorting, filtering and paging for the console's smaller lists (schedules, imports, exports,
integrations): the state lives in the query string, so a sorted, filtered page is a link."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select

from webapp.exceptions import BadRequest
from webapp.extensions import db

PAGE_SIZE = 25
# Far past any real list, and an offset (page × size) that a 64-bit integer holds.
MAX_PAGE = 1_000_000


class ListingError(BadRequest):
    """A sort or page that this list does not offer."""


@dataclass(frozen=True)
class Listing:
    """Where a list is: its sort (a column name, "-" in front for descending), its page and
    its filters, read from the query string and written back into links."""

    sort: str
    page: int = 1
    filters: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(
        cls,
        args: Mapping[str, str],
        sorts: Mapping[str, Any],
        default: str,
        filters: tuple[str, ...] | Mapping[str, Iterable[str] | None] = (),
    ) -> Listing:
        """The listing from request arguments; ListingError for a sort or page it cannot be,
        or for a filter value outside those it offers (``filters`` as a mapping: name → the
        values it takes, None for any text)."""
        sort = args.get("sort") or default
        if sort.lstrip("-") not in sorts:
            raise ListingError(f"sort must be one of {', '.join(sorts)} (with - for descending)")
        raw_page = args.get("page") or "1"
        valid = raw_page.isascii() and raw_page.isdigit() and len(raw_page) <= len(str(MAX_PAGE))
        if not valid or not 1 <= int(raw_page) <= MAX_PAGE:
            raise ListingError(
                f"page must be a whole number from 1 to {MAX_PAGE}, not {raw_page[:40]!r}"
            )
        chosen = {name: args[name].strip() for name in filters if (args.get(name) or "").strip()}
        if isinstance(filters, Mapping):
            for name, value in chosen.items():
                allowed = filters[name]
                if allowed is not None and value not in allowed:
                    raise ListingError(
                        f"{name} must be one of {', '.join(allowed)}, not {value[:40]!r}",
                        field=name,
                    )
        return cls(sort, int(raw_page), chosen)

    def query(self, **changes: Any) -> dict[str, Any]:
        """This listing's query-string values with some changed (None drops one)."""
        values: dict[str, Any] = {**self.filters, "sort": self.sort, "page": self.page}
        values.update(changes)
        if values.get("page") == 1:
            values.pop("page")
        return {key: value for key, value in values.items() if value not in (None, "")}

    def sorted_by(self, column: str) -> dict[str, Any]:
        """The query for a column heading: sort by it (ascending first), or flip it when it is
        the sort already."""
        new_sort = f"-{column}" if self.sort == column else column
        return self.query(sort=new_sort, page=1)

    def arrow(self, column: str) -> str:
        if self.sort.lstrip("-") != column:
            return ""
        return " ↓" if self.sort.startswith("-") else " ↑"

    def page_of(
        self, stmt: Select, sorts: Mapping[str, Any], id_column: Any, size: int = PAGE_SIZE
    ) -> tuple[list[Any], bool]:
        """One page of ``stmt`` in this order (ties broken by id); True when more follow."""
        column = sorts[self.sort.lstrip("-")]
        descending = self.sort.startswith("-")
        order = [column.desc() if descending else column.asc()]
        order.append(id_column.desc() if descending else id_column.asc())
        stmt = stmt.order_by(*order).offset((self.page - 1) * size).limit(size + 1)
        rows = list(db.session.scalars(stmt))
        return rows[:size], len(rows) > size
