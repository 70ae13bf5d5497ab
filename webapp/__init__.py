"""Jobdeck: a job operations console for Flask and Huey."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

from webapp import redaction
from webapp.config import settings_from_environment
from webapp.extensions import csrf, db, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then the environment, then ``test_config``."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=os.environ.get("JOBDECK_INSTANCE_PATH") or str(ROOT / "instance"),
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(settings_from_environment(Path(app.instance_path)))
    if test_config:
        app.config.from_mapping(test_config)
    Path(app.config["DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    # Refuse oversized uploads (413) before reading them; a little room for the form fields.
    app.config.setdefault("MAX_CONTENT_LENGTH", app.config["IMPORT_MAX_BYTES"] + 64 * 1024)

    redaction.configure(app.config["REDACT_KEYS"])
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)

    import tasks
    from webapp import models  # noqa: F401  (registers the tables)

    tasks.configure_queue(app.config["QUEUE_URL"], immediate=app.config["HUEY_IMMEDIATE"])

    from webapp import auth, errors, security, templating
    from webapp.api import bp as api_bp
    from webapp.cli import register_commands
    from webapp.dashboard import bp as dashboard_bp
    from webapp.integrations import bp as integrations_bp
    from webapp.jobs import bp as jobs_bp
    from webapp.schedules import bp as schedules_bp
    from webapp.series import bp as series_bp
    from webapp.transfers import bp as transfers_bp

    auth.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    templating.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(jobs_bp)
    app.register_blueprint(schedules_bp)
    app.register_blueprint(series_bp)
    app.register_blueprint(integrations_bp)
    app.register_blueprint(transfers_bp)
    app.register_blueprint(api_bp)
    register_commands(app)
    return app
