"""Jobdeck: a job operations console for Flask and Huey."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

import tasks  # noqa: F401  (every task module registers its tasks with Huey)
from jobkit import bind_factory, configure_queue, redaction
from webapp import (
    api,
    audit,
    auth,
    dashboard,
    errors,
    integrations,
    jobs,
    models,  # noqa: F401  (registers the tables)
    observability,
    schedules,
    security,
    series,
    templating,
    transfers,
    users,
)
from webapp.areas import init_areas
from webapp.boundary import BoundedIdConverter
from webapp.boundary import init_app as init_boundary
from webapp.config import settings_from_environment
from webapp.extensions import csrf, db, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent

# The areas, in nav order; a new area is a package under webapp/ with an `area` and one line here.
AREAS = (
    auth.area,
    dashboard.area,
    jobs.area,
    schedules.area,
    transfers.area,
    series.area,
    integrations.area,
    observability.area,
    users.area,
    audit.area,
    api.area,
)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then the environment, then ``test_config``."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=os.environ.get("JOBDECK_INSTANCE_PATH") or str(ROOT / "instance"),
    )
    # Path ids no id column holds match no route (404) instead of overflowing the database.
    app.url_map.converters["int"] = BoundedIdConverter
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(settings_from_environment(Path(app.instance_path)))
    if test_config:
        app.config.from_mapping(test_config)
    Path(app.config["DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    # Refuse oversized bodies (413) before reading them: the largest upload and a little room
    # for the form fields. Flask's own default is None (no limit), so setdefault would not do.
    if not (test_config and "MAX_CONTENT_LENGTH" in test_config):
        app.config["MAX_CONTENT_LENGTH"] = app.config["IMPORT_MAX_BYTES"] + 64 * 1024

    redaction.configure(app.config["REDACT_KEYS"])
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    configure_queue(app.config["QUEUE_URL"], immediate=app.config["HUEY_IMMEDIATE"])
    init_boundary(app)
    errors.init_app(app)
    security.init_app(app)
    templating.init_app(app)
    init_areas(app, AREAS)
    return app


# Tasks that find no app context (a consumer started without `flask queue work`) build one.
bind_factory(create_app)
