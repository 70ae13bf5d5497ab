"""Each area of the app (series, schedules, imports and exports …) registers itself in one place.

An area is a package under ``webapp/`` whose ``__init__.py`` builds one ``Area``: its blueprint,
its CLI groups, its nav entries, the pages of the records its jobs work for, and the commands a
schedule may run. ``create_app`` calls ``init_app`` on every area in ``webapp.app.AREAS``; the
nav, ``record_url`` and the schedulable commands read what the areas registered, so no other list
has to be kept in step.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field

import click
from flask import Blueprint, Flask, current_app, url_for

from webapp.cli import add_command


@dataclass(frozen=True)
class NavEntry:
    """A link in the top navigation; ``current`` lists the endpoints (or ``blueprint.``
    prefixes) on which it is marked as the current page; ``roles`` limits who sees it."""

    label: str
    endpoint: str
    order: int
    current: tuple[str, ...] = ()
    roles: tuple[str, ...] | None = None

    def is_current(self, endpoint: str | None) -> bool:
        """Whether the page being shown belongs to this entry."""
        if not endpoint:
            return False
        marks = self.current or (self.endpoint,)
        return any(endpoint == m or (m.endswith(".") and endpoint.startswith(m)) for m in marks)

    def visible_to(self, role: str | None) -> bool:
        """Whether a user of ``role`` sees this entry."""
        return self.roles is None or role in self.roles


@dataclass(frozen=True)
class RecordPage:
    """Where the page of a record type is: ``url(record_id)`` builds its address; ``names``
    (see ``webapp.services.job_labels.names_by``) what its records are called on job lists."""

    record_type: str
    url: Callable[[int], str]
    names: Callable[[Collection[int]], dict[int, str]] | None = None


def page_of(endpoint: str, argument: str) -> Callable[[int], str]:
    """A ``RecordPage.url`` for a page whose route takes the record's id as ``argument``."""
    return lambda record_id: url_for(endpoint, **{argument: record_id})


@dataclass
class Area:
    """One area's registrations, applied to an app by ``init_app``."""

    name: str
    blueprint: Blueprint | None = None
    cli: Sequence[click.Command] = ()
    nav: Sequence[NavEntry] = ()
    record_pages: Sequence[RecordPage] = ()
    schedulable: Sequence[str] = ()
    setup: Callable[[Flask], None] | None = None

    def init_app(self, app: Flask) -> None:
        """Register this area's blueprint, commands, nav entries, record pages and
        schedulable commands with ``app``."""
        registry = registry_of(app)
        if self.setup is not None:
            self.setup(app)
        if self.blueprint is not None:
            app.register_blueprint(self.blueprint)
        for command in self.cli:
            add_command(app, command)
        registry.nav.extend(self.nav)
        registry.nav.sort(key=lambda entry: entry.order)
        for page in self.record_pages:
            registry.record_pages[page.record_type] = page
        registry.schedulable.extend(self.schedulable)


@dataclass
class Registry:
    """What the areas registered with one app."""

    nav: list[NavEntry] = field(default_factory=list)
    record_pages: dict[str, RecordPage] = field(default_factory=dict)
    schedulable: list[str] = field(default_factory=list)


def registry_of(app: Flask) -> Registry:
    """The registry of ``app``, created on first use."""
    return app.extensions.setdefault("jobdeck_areas", Registry())


def init_areas(app: Flask, areas: Iterable[Area]) -> None:
    """Register every area with ``app``, in order."""
    for area in areas:
        area.init_app(app)


def nav_entries(role: str | None) -> list[NavEntry]:
    """The nav entries a user of ``role`` sees, in order."""
    return [e for e in registry_of(current_app).nav if e.visible_to(role)]


def record_page(record_type: str) -> RecordPage | None:
    """The page registered for ``record_type``, if any."""
    return registry_of(current_app).record_pages.get(record_type)


def record_namers() -> dict[str, Callable[[Collection[int]], dict[int, str]]]:
    """Record type → how its records' names are loaded, for the types that registered one."""
    pages = registry_of(current_app).record_pages.values()
    return {page.record_type: page.names for page in pages if page.names is not None}


def schedulable_commands() -> tuple[str, ...]:
    """The commands (as typed after ``flask``) that a schedule may run."""
    return tuple(registry_of(current_app).schedulable)
