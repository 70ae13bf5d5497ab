"""TV series and episodes kept fresh from TVmaze: pages and the `series`/`episodes` commands."""

from webapp.areas import Area, NavEntry, RecordPage, page_of
from webapp.models.series import Episode, Series
from webapp.series.cli import episodes_cli, series_cli
from webapp.series.routes import bp
from webapp.services.job_labels import names_by

area = Area(
    "series",
    blueprint=bp,
    cli=[series_cli, episodes_cli],
    nav=[NavEntry("Series", "series.index", order=80, current=("series.",))],
    record_pages=[
        RecordPage("series", page_of("series.show", "series_id"), names_by(Series.name)),
        RecordPage(
            "episode", page_of("series.episode_by_id", "episode_id"), names_by(Episode.name)
        ),
    ],
    schedulable=[
        "series import-missing-data",
        "series check-data-updates",
        "episodes import-missing-data",
        "episodes check-data-updates",
        "episodes retry-failed",
    ],
)
