"""The dashboard: what is running, waiting and failing, and the demo data for a new console."""

from webapp.areas import Area, NavEntry
from webapp.dashboard.demo import demo
from webapp.dashboard.routes import bp

area = Area(
    "dashboard",
    blueprint=bp,
    cli=[demo],
    nav=[NavEntry("Dashboard", "dashboard.index", order=10)],
)
