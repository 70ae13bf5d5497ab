from flask import Blueprint

bp = Blueprint("schedules", __name__, url_prefix="/schedules")

from webapp.schedules import routes  # noqa: E402, F401
