"""Sign-in with sessions (Flask-Login), bearer tokens for the API, and role checks."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, flash, g, redirect, request, url_for
from flask_login import current_user

from webapp.areas import Area
from webapp.auth.cli import users_cli
from webapp.auth.routes import bp
from webapp.errors import error_response, unauthorized_message, wants_json
from webapp.extensions import db, login_manager
from webapp.models.users import Role, User
from webapp.services import throttle
from webapp.services.users import user_for_token


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
        return user if user is not None and user.active else None

    @login_manager.request_loader
    def load_user_from_token(req) -> User | None:
        header = req.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        keys = throttle.token_keys(req.remote_addr)
        user = user_for_token(header.removeprefix("Bearer ").strip())
        if user is None:
            throttle.record_failure(keys)
        return user

    @app.before_request
    def throttle_tokens() -> None:
        # Before routing, so that an unknown path is throttled like any other (the loader runs
        # late, inside the 404 page's layout, where a Throttled could only be a 500).
        if request.headers.get("Authorization", "").startswith("Bearer "):
            throttle.check(throttle.token_keys(request.remote_addr))

    @app.errorhandler(throttle.Throttled)
    def throttled(exc: throttle.Throttled):
        # The answer is rendered for nobody: the error page's layout reads the user, and asking
        # the token loader again would be throttled again, inside this handler (a 500).
        g._login_user = login_manager.anonymous_user()
        body, status = error_response(429, str(exc), exc.code)
        return body, status, {"Retry-After": str(exc.retry_after)}

    @login_manager.unauthorized_handler
    def unauthorized():
        if wants_json():
            return error_response(401, unauthorized_message(request.headers.get("Authorization")))
        flash(login_manager.login_message, "info")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def role_required(role: Role) -> Callable:
    """Let only signed-in users holding ``role`` (or a higher one) through."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.can(role):
                return error_response(403, f"this needs the {role.value} role")
            return view(*args, **kwargs)

        return wrapped

    return decorator


area = Area("auth", blueprint=bp, cli=[users_cli], setup=init_app)
