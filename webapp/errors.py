"""One error handler that answers in HTML or in the API's JSON shape."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from webapp.extensions import BUSY_MESSAGE, is_busy
from webapp.services.jobs import JobError

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
JOB_ERROR_STATUS = {"not_found": 404, "conflict": 409, "invalid": 400}


def wants_json() -> bool:
    """API paths and clients that ask for JSON get JSON errors."""
    if request.blueprint == "api" or request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def error_response(status: int, message: str, code: str | None = None):
    """The error as the contract's JSON or as an HTML page, whichever the client wants."""
    code = code or CODES.get(status, "error")
    if wants_json():
        return jsonify({"error": {"code": code, "message": message}}), status
    return render_template("errors/error.html", status=status, message=message), status


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return error_response(400, f"CSRF check failed: {exc.description}", "csrf_failed")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return error_response(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(JobError)
    def job_error(exc: JobError):
        return error_response(JOB_ERROR_STATUS.get(exc.code, 409), str(exc), exc.code)

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
