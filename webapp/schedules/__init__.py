"""Schedules kept in the database: pages and the `schedule` commands."""

from webapp.areas import Area, NavEntry, RecordPage, page_of
from webapp.models.schedules import Schedule
from webapp.schedules.cli import schedule_cli
from webapp.schedules.routes import bp
from webapp.services.job_labels import names_by

area = Area(
    "schedules",
    blueprint=bp,
    cli=[schedule_cli],
    nav=[NavEntry("Schedules", "schedules.index", order=50, current=("schedules.",))],
    record_pages=[
        RecordPage("schedule", page_of("schedules.show", "schedule_id"), names_by(Schedule.name))
    ],
)
