"""Schedules over the API."""

from flask import abort, jsonify, request
from flask_login import current_user

from tasks.schedules import dispatch_run
from webapp.api.blueprint import bp
from webapp.api.params import int_arg
from webapp.auth import role_required
from webapp.errors import error_response
from webapp.extensions import db
from webapp.models.users import Role
from webapp.services import schedules as service


def _schedule(schedule_id: int):
    try:
        return service.get_schedule(schedule_id)
    except service.ScheduleError as exc:
        abort(404, str(exc))


def _body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, "send a JSON object")
    return data


def _invalid(exc: service.ScheduleError):
    status = 409 if exc.code == "conflict" else 422
    message = f"{exc.field}: {exc}" if exc.field else str(exc)
    return error_response(status, message, "conflict" if status == 409 else "invalid")


@bp.get("/schedules")
def list_schedules():
    return jsonify([service.to_dict(s) for s in service.list_schedules()])


@bp.post("/schedules")
@role_required(Role.OPERATOR)
def create_schedule():
    try:
        schedule = service.create_schedule(_body(), current_user.id)
    except service.ScheduleError as exc:
        db.session.rollback()
        return _invalid(exc)
    return jsonify(service.to_dict(schedule)), 201


@bp.get("/schedules/<int:schedule_id>")
def get_schedule(schedule_id: int):
    return jsonify(service.to_dict(_schedule(schedule_id)))


@bp.patch("/schedules/<int:schedule_id>")
@role_required(Role.OPERATOR)
def update_schedule(schedule_id: int):
    schedule = _schedule(schedule_id)
    try:
        service.update_schedule(schedule, _body())
    except service.ScheduleError as exc:
        db.session.rollback()
        return _invalid(exc)
    return jsonify(service.to_dict(schedule))


@bp.delete("/schedules/<int:schedule_id>")
@role_required(Role.ADMIN)
def delete_schedule(schedule_id: int):
    db.session.delete(_schedule(schedule_id))
    db.session.commit()
    return "", 204


@bp.post("/schedules/<int:schedule_id>/run")
@role_required(Role.OPERATOR)
def run_schedule_now(schedule_id: int):
    run = service.manual_run(_schedule(schedule_id))
    dispatch_run(run, user_id=current_user.id)
    db.session.refresh(run)
    return jsonify(run.to_dict()), 202


@bp.get("/schedules/<int:schedule_id>/runs")
def schedule_runs(schedule_id: int):
    _schedule(schedule_id)
    limit = int_arg("limit", default=50, minimum=1)
    runs = service.runs_of(schedule_id, min(limit, 500), int_arg("cursor", minimum=1))
    return jsonify([run.to_dict() for run in runs])
