"""The API blueprint: token or session auth on every endpoint but the public ones."""

from flask import Blueprint, request
from flask_login import current_user

from webapp.errors import error_response, unauthorized_message
from webapp.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api")
csrf.exempt(bp)

PUBLIC_ENDPOINTS = {"api.openapi", "api.docs"}


@bp.before_request
def authenticate():
    """Every endpoint but the description needs a user; browser sessions also need CSRF."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return error_response(401, unauthorized_message(request.headers.get("Authorization")))
    uses_token = request.headers.get("Authorization", "").startswith("Bearer ")
    if request.method not in ("GET", "HEAD", "OPTIONS") and not uses_token:
        csrf.protect()
    return None
