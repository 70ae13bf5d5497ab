import click
from flask.cli import with_appcontext
from sqlalchemy import func, select

from tasks.series import dispatch_series_data
from webapp.extensions import db
from webapp.models.integrations import Integration
from webapp.models.series import Series
from webapp.models.users import Role, User
from webapp.services import integrations as integration_service
from webapp.services import series as series_service

# Well-known shows by TVmaze id.
DEMO_SHOWS = {
    83: "The Simpsons",
    82: "Game of Thrones",
    169: "Breaking Bad",
    526: "The Office",
    335: "Sherlock",
}
DEMO_INTEGRATION_SHOW = 83


@click.command("demo")
@click.option("--first-run", is_flag=True, help="Do nothing unless there are no series yet.")
@with_appcontext
def demo(first_run: bool) -> None:
    """Add a few well-known series and an integration, so a new console has work to show."""
    if first_run and (
        db.session.scalar(select(func.count()).select_from(Series))
        or db.session.scalar(select(func.count()).select_from(Integration))
    ):
        return
    admin = db.session.scalar(select(User).where(User.role == Role.ADMIN.value).order_by(User.id))
    user_id = admin.id if admin else None
    added = []
    for tvmaze_id in DEMO_SHOWS:
        try:
            added.append(series_service.add_series(tvmaze_id=tvmaze_id, user_id=user_id))
        except series_service.SeriesExists:
            continue
    job_ids = dispatch_series_data([s.id for s in added], user_id=user_id)
    click.echo(f"Added {len(added)} series and dispatched {len(job_ids)} data jobs.")
    if admin is not None and not integration_service.integrations_of(admin.id):
        integration = integration_service.create_integration(
            admin.id,
            "tvmaze_upcoming",
            f"Upcoming {DEMO_SHOWS[DEMO_INTEGRATION_SHOW]}",
            {"tvmaze_id": DEMO_INTEGRATION_SHOW},
            60,
        )
        click.echo(f"Added the integration '{integration.name}' for {admin.email}.")
