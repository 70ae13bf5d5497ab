from flask import Blueprint

bp = Blueprint("transfers", __name__, url_prefix="/")

from webapp.transfers import routes  # noqa: E402, F401
