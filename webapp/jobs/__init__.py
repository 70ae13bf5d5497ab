from flask import Blueprint

bp = Blueprint("jobs", __name__, url_prefix="/")

from webapp.jobs import batches, routes  # noqa: E402, F401
