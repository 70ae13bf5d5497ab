"""The audit log: the /audit page and `flask audit list` for admins, and the hooks that tell the
audit log who acts in each web request."""

from flask import Flask, g, request
from flask_login import current_user

from jobkit import pauses
from webapp.areas import Area, NavEntry
from webapp.audit.cli import audit_cli
from webapp.audit.routes import bp
from webapp.models.users import Role
from webapp.services import audit


def _signed_in_user():
    return current_user._get_current_object() if current_user.is_authenticated else None


def init_app(app: Flask) -> None:
    """Every request acts as its signed-in user, on the page or api channel, from its IP;
    pausing and resuming is recorded wherever it is done."""
    if audit.record_pause_change not in pauses.change_listeners:
        pauses.change_listeners.append(audit.record_pause_change)

    @app.before_request
    def start_acting() -> None:
        channel = "api" if request.blueprint == "api" else "page"
        actor = audit.Actor(channel, user=_signed_in_user, ip=request.remote_addr)
        g._audit_token = audit.acting_as(actor)

    @app.teardown_request
    def stop_acting(_exc) -> None:
        token = g.pop("_audit_token", None)
        if token is not None:
            audit.stop_acting(token)


area = Area(
    "audit",
    blueprint=bp,
    cli=[audit_cli],
    nav=[NavEntry("Audit", "audit.index", order=110, current=("audit.",), roles=(Role.ADMIN,))],
    setup=init_app,
)
