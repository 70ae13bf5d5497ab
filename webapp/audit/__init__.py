"""The /audit page, and the hooks that tell the audit log who acts in each web request."""

from flask import Blueprint, Flask, g, request
from flask_login import current_user

from webapp.services import audit

bp = Blueprint("audit", __name__, url_prefix="/audit")


def _signed_in_user():
    return current_user._get_current_object() if current_user.is_authenticated else None


def init_app(app: Flask) -> None:
    """Every request acts as its signed-in user, on the page or api channel, from its IP."""

    @app.before_request
    def act_as_the_signed_in_user() -> None:
        channel = "api" if request.blueprint == "api" else "page"
        actor = audit.Actor(channel, user=_signed_in_user, ip=request.remote_addr)
        g._audit_token = audit.acting_as(actor)

    @app.teardown_request
    def stop_acting(_exc) -> None:
        token = g.pop("_audit_token", None)
        if token is not None:
            audit.stop_acting(token)


from webapp.audit import routes  # noqa: E402, F401
