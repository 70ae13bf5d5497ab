"""Schedules over the API."""

from flask_login import current_user

from tasks.schedules import dispatch_run
from webapp.api.routing import api_route
from webapp.api.schemas import RunsQuery, Schedule, ScheduleInput, ScheduleRun
from webapp.extensions import db
from webapp.models.users import Role
from webapp.services import schedules as service
from webapp.services.schedule_runs import manual_run


def _changes(body: ScheduleInput) -> dict:
    """Only the fields the client sent, as the service expects them."""
    return body.model_dump(exclude_unset=True)


@api_route("/schedules", ["GET"], responses={200: list[Schedule]})
def list_schedules():
    """Schedules, by name"""
    return [service.to_dict(s) for s in service.list_schedules()]


@api_route(
    "/schedules",
    ["POST"],
    role=Role.OPERATOR,
    body=ScheduleInput,
    responses={201: Schedule},
    errors=[409],
)
def create_schedule(body: ScheduleInput):
    """Create a schedule (operator)

    Name, command, parameters, cron or preset, timezone, queue, active, without_overlapping.
    """
    schedule = service.create_schedule(_changes(body), current_user.id)
    return service.to_dict(schedule), 201


@api_route("/schedules/<int:schedule_id>", ["GET"], responses={200: Schedule})
def get_schedule(schedule_id: int):
    """One schedule"""
    return service.to_dict(service.get_schedule(schedule_id))


@api_route(
    "/schedules/<int:schedule_id>",
    ["PATCH"],
    role=Role.OPERATOR,
    body=ScheduleInput,
    responses={200: Schedule},
    errors=[409],
)
def update_schedule(schedule_id: int, body: ScheduleInput):
    """Change a schedule (operator): only the fields sent change"""
    schedule = service.get_schedule(schedule_id)
    service.update_schedule(schedule, _changes(body))
    return service.to_dict(schedule)


@api_route("/schedules/<int:schedule_id>", ["DELETE"], role=Role.ADMIN, responses={204: None})
def delete_schedule(schedule_id: int):
    """Delete a schedule and its history (admin)"""
    service.delete_schedule(service.get_schedule(schedule_id))
    return None, 204


@api_route(
    "/schedules/<int:schedule_id>/run", ["POST"], role=Role.OPERATOR, responses={202: ScheduleRun}
)
def run_schedule_now(schedule_id: int):
    """Run it now, whatever its timing (operator)"""
    run = manual_run(service.get_schedule(schedule_id))
    dispatch_run(run, user_id=current_user.id)
    db.session.refresh(run)
    return run.to_dict(), 202


@api_route(
    "/schedules/<int:schedule_id>/runs",
    ["GET"],
    query=RunsQuery,
    responses={200: list[ScheduleRun]},
)
def schedule_runs(schedule_id: int, query: RunsQuery):
    """Its runs, newest first"""
    service.get_schedule(schedule_id)
    return [run.to_dict() for run in service.runs_of(schedule_id, query.limit, query.cursor)]
