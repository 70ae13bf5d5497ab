"""The one family of errors a service raises for something a person asked that cannot be done.

Each carries the HTTP status and the contract's short code; ``webapp.errors`` turns any of them
into the contract's JSON error or an HTML error page, once, so routes never catch to abort.
This module imports nothing of the app, so the job framework, services and routes all use it.
"""

from __future__ import annotations


class ServiceError(Exception):
    """A request that cannot be carried out, with a message for the person who made it."""

    status: int = 409
    code: str = "conflict"

    def __init__(
        self,
        message: str = "",
        *,
        field: str | None = None,
        code: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        return self.message

    def describe(self) -> str:
        """The message as read on its own (an error page, the API, the CLI), away from a form:
        with the field it is about in front, as in ``cron: 'x' is not a valid cron expression``,
        unless the message already starts with it (``limit must be at most 500``)."""
        if not self.field or _names_first(self.message, self.field):
            return self.message
        return f"{self.field}: {self.message}"


def _names_first(message: str, field: str) -> bool:
    """Whether ``message`` opens with ``field`` as a word (``--days``, ``filters.status``)."""
    for name in (field, field.lstrip("-")):
        if message.startswith(name) and message[len(name) : len(name) + 1] in ("", " ", ":"):
            return True
    return False


class NotFound(ServiceError):
    """What was asked for does not exist (or is not the caller's to see)."""

    status = 404
    code = "not_found"


class Invalid(ServiceError):
    """A well-formed request that breaks a rule; ``field`` names the input at fault."""

    status = 422
    code = "invalid"


class BadRequest(ServiceError):
    """A malformed request: a value of the wrong type or out of range."""

    status = 400
    code = "bad_request"


class Conflict(ServiceError):
    """The record is not in a state that allows this (a finished job cannot be cancelled)."""

    status = 409
    code = "conflict"


class Forbidden(ServiceError):
    """The caller may not do this."""

    status = 403
    code = "forbidden"


class TooLarge(ServiceError):
    """The request or file is larger than this deployment accepts."""

    status = 413
    code = "too_large"


class Unavailable(ServiceError):
    """A part the request needs (the queue, the database) cannot be reached right now."""

    status = 503
    code = "unavailable"
