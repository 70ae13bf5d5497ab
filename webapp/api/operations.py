"""Pauses, batches, alerts and consumers."""

from flask import abort, jsonify
from flask_login import current_user

from jobkit import pauses
from webapp.api.blueprint import bp
from webapp.auth import role_required
from webapp.models.base import isoformat
from webapp.models.users import Role
from webapp.services import alerts, batches, consumers


def _pause_dict(p) -> dict:
    return {"kind": p.kind, "name": p.name, "paused_at": isoformat(p.paused_at)}


@bp.get("/pauses")
def list_pauses():
    return jsonify([_pause_dict(p) for p in pauses.paused()])


def _set_pause(kind: str, name: str, paused: bool):
    try:
        if paused:
            pauses.pause(kind, name, current_user.id)
        else:
            pauses.resume(kind, name)
    except pauses.PauseError as exc:
        abort(404, str(exc))
    return jsonify([_pause_dict(p) for p in pauses.paused()])


@bp.post("/queues/<name>/pause")
@role_required(Role.OPERATOR)
def pause_queue(name: str):
    return _set_pause("queue", name, True)


@bp.post("/queues/<name>/resume")
@role_required(Role.OPERATOR)
def resume_queue(name: str):
    return _set_pause("queue", name, False)


@bp.post("/tasks/<name>/pause")
@role_required(Role.OPERATOR)
def pause_task(name: str):
    return _set_pause("task", name, True)


@bp.post("/tasks/<name>/resume")
@role_required(Role.OPERATOR)
def resume_task(name: str):
    return _set_pause("task", name, False)


def _batch(batch_id: int) -> batches.BatchProgress:
    try:
        return batches.progress(batch_id)
    except batches.BatchError as exc:
        abort(404, str(exc))


@bp.get("/batches/<int:batch_id>")
def get_batch(batch_id: int):
    return jsonify(_batch(batch_id).to_dict())


@bp.post("/batches/<int:batch_id>/cancel")
@role_required(Role.OPERATOR)
def cancel_batch(batch_id: int):
    _batch(batch_id)
    batches.cancel_batch(batch_id)
    return jsonify(_batch(batch_id).to_dict())


@bp.post("/batches/<int:batch_id>/retry-failed")
@role_required(Role.OPERATOR)
def retry_batch_failures(batch_id: int):
    _batch(batch_id)
    new_ids = batches.retry_failed(batch_id, current_user.id)
    return jsonify({"retried": len(new_ids), "job_ids": new_ids}), 202


@bp.get("/alerts")
def list_alerts():
    return jsonify([alert.to_dict() for alert in alerts.open_alerts()])


@bp.get("/consumers")
def list_consumers():
    return jsonify(
        [
            {
                "id": c.id,
                "workers": c.workers,
                "started_at": isoformat(c.started_at),
                "heartbeat_at": isoformat(c.heartbeat_at),
            }
            for c in consumers.live_consumers()
        ]
    )
