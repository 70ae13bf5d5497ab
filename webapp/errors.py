"""One error handler that answers in HTML or in the API's JSON shape.

A ``ServiceError`` from anywhere below a route becomes the contract's JSON error or the HTML
error page here, so routes and the API let them through instead of catching to abort.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from webapp.exceptions import ServiceError
from webapp.extensions import BUSY_MESSAGE, db, is_busy

log = logging.getLogger(__name__)

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid",
}


def wants_json() -> bool:
    """API paths and clients that ask for JSON get JSON errors."""
    if request.blueprint == "api" or is_api_path():
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def is_api_path() -> bool:
    """The request is for the API (``/api`` itself included), known path or not."""
    return request.path == "/api" or request.path.startswith("/api/")


def _in_words(exc: HTTPException) -> str:
    """What the HTTP error says; werkzeug's stock sentences for an unknown API path or method
    replaced by what to do instead (an ``abort(404, "…")`` keeps its own words)."""
    stock = type(exc).description
    if exc.description and exc.description != stock:
        return exc.description
    if is_api_path() and exc.code == 404:
        return (
            f"there is no API path {request.path}; the paths are listed at /api/openapi.json "
            "and browsable at /api/docs"
        )
    if exc.code == 405:
        allowed = sorted(set(getattr(exc, "valid_methods", None) or ()) - {"HEAD", "OPTIONS"})
        use = f"; use {_either(allowed)}" if allowed else ""
        return f"{request.path} does not answer {request.method}{use}"
    return exc.description or exc.name


def _either(words: list[str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    return " or ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)


# Where a token comes from, for whoever has none that works.
GET_A_TOKEN = (
    "an admin makes one on the user's page under /users, or with `flask users token EMAIL`"
)


def unauthorized_message(header: str | None) -> str:
    """Why an API request is not signed in, and what to do about it."""
    header = (header or "").strip()
    if header.startswith("Bearer "):
        return (
            "this API token is not valid (mistyped, revoked, or its user disabled); "
            f"send a working one as Authorization: Bearer <token> ({GET_A_TOKEN})"
        )
    if header:
        return (
            f"send the token as Authorization: Bearer <token>, not as {header.split()[0]} "
            f"({GET_A_TOKEN})"
        )
    return f"sign in, or send an API token as Authorization: Bearer <token> ({GET_A_TOKEN})"


def _back_url() -> str | None:
    """The page the person came from, when it is one of ours and not this one."""
    referrer = request.referrer
    if not referrer:
        return None
    parts = urlsplit(referrer)
    if parts.scheme not in ("http", "https") or parts.netloc != request.host:
        return None
    return None if referrer == request.url else referrer


def error_response(status: int, message: str, code: str | None = None, field: str | None = None):
    """The error as the contract's JSON or as an HTML page, whichever the client wants.

    JSON: ``{"error": {"code", "message"}}``, with ``"field"`` when the error names the input at
    fault. HTML: the error page in the layout, with a way back.
    """
    code = code or CODES.get(status, "error")
    if wants_json():
        error = {"code": code, "message": message}
        if field:
            error["field"] = field
        return jsonify({"error": error}), status
    page = render_template(
        "errors/error.html", status=status, message=message, back_url=_back_url()
    )
    return page, status


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return error_response(400, f"CSRF check failed: {exc.description}", "csrf_failed")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        body, status = error_response(exc.code or 500, _in_words(exc))
        # Keep what the exception says about itself (Allow on a 405), not its content type.
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        return body, status, headers

    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError):
        # The request was refused: drop what it left unsaved, so that rendering the answer
        # (the layout reads the user) starts from a clean session.
        db.session.rollback()
        return error_response(exc.status, exc.describe(), exc.code, exc.field)

    @app.errorhandler(OperationalError)
    def database_error(exc: OperationalError):
        if not is_busy(exc):
            return unexpected_error(exc)
        log.warning("database busy on %s %s", request.method, request.path)
        return error_response(503, BUSY_MESSAGE, "unavailable")

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, InternalServerError.description, "internal_error")
