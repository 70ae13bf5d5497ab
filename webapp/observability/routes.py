"""``/metrics`` for Prometheus and ``/healthz`` for load balancers and orchestrators."""

import hmac

from flask import Blueprint, Response, current_app, jsonify, request
from flask_login import current_user

from webapp.errors import error_response
from webapp.extensions import csrf
from webapp.services import observability

bp = Blueprint("observability", __name__, url_prefix="/")
csrf.exempt(bp)


def _metrics_token_matches() -> bool:
    token = current_app.config.get("METRICS_TOKEN") or ""
    sent = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())


@bp.get("metrics")
def metrics():
    """The Prometheus text format; for signed-in users, and for ``METRICS_TOKEN`` when set."""
    if not (_metrics_token_matches() or current_user.is_authenticated):
        return error_response(401, "send Authorization: Bearer <METRICS_TOKEN> or sign in")
    response = Response(observability.metrics_text(), content_type=observability.CONTENT_TYPE)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("healthz")
def healthz():
    """200 when the database, the queue storage and a consumer are all fine, else 503."""
    parts = observability.health()
    response = jsonify(parts)
    response.status_code = 200 if all(v == "ok" for v in parts.values()) else 503
    response.headers["Cache-Control"] = "no-store"
    return response
