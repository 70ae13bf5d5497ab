"""The /users pages: user management for admins."""

from flask import Blueprint

bp = Blueprint("users", __name__, url_prefix="/users")

from webapp.users import routes  # noqa: E402, F401
