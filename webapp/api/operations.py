"""Pauses, batches, alerts and consumers."""

from flask_login import current_user

from jobkit import pauses
from webapp.api.routing import api_route
from webapp.api.schemas import Alert, Batch, BatchRetry, Consumer, Pause, Queue
from webapp.models.base import isoformat
from webapp.models.users import Role
from webapp.services import alerts, batches, consumers
from webapp.services.ownership import viewer_of

QUEUE_NAME = {"type": "string", "enum": list(Queue.__args__)}


def _pauses() -> list[dict]:
    return [
        {"kind": p.kind, "name": p.name, "paused_at": isoformat(p.paused_at)}
        for p in pauses.paused()
    ]


@api_route("/pauses", ["GET"], responses={200: list[Pause]})
def list_pauses():
    """Paused queues and task types"""
    return _pauses()


def _set_pause(kind: str, name: str, paused: bool) -> list[dict]:
    if paused:
        pauses.pause(kind, name, current_user.id)
    else:
        pauses.resume(kind, name)
    return _pauses()


PAUSE = dict(role=Role.OPERATOR, responses={200: list[Pause]})


@api_route("/queues/<name>/pause", ["POST"], path_schemas={"name": QUEUE_NAME}, **PAUSE)
def pause_queue(name: str):
    """Pause a queue: its jobs wait, neither running nor failing, until resumed (operator)"""
    return _set_pause("queue", name, True)


@api_route("/queues/<name>/resume", ["POST"], path_schemas={"name": QUEUE_NAME}, **PAUSE)
def resume_queue(name: str):
    """Resume a paused queue (operator)"""
    return _set_pause("queue", name, False)


@api_route("/tasks/<name>/pause", ["POST"], **PAUSE)
def pause_task(name: str):
    """Pause a task type: its jobs wait, neither running nor failing, until resumed (operator)"""
    return _set_pause("task", name, True)


@api_route("/tasks/<name>/resume", ["POST"], **PAUSE)
def resume_task(name: str):
    """Resume a paused task type (operator)"""
    return _set_pause("task", name, False)


@api_route("/batches/<int:batch_id>", ["GET"], responses={200: Batch})
def get_batch(batch_id: int):
    """A batch: total, done, failed, progress"""
    return batches.progress(batch_id).to_dict()


@api_route("/batches/<int:batch_id>/cancel", ["POST"], role=Role.OPERATOR, responses={200: Batch})
def cancel_batch(batch_id: int):
    """Cancel the batch's pending and running jobs (operator)"""
    batches.progress(batch_id)
    batches.cancel_batch(batch_id, viewer_of(current_user))
    return batches.progress(batch_id).to_dict()


@api_route(
    "/batches/<int:batch_id>/retry-failed",
    ["POST"],
    role=Role.OPERATOR,
    responses={202: BatchRetry},
)
def retry_batch_failures(batch_id: int):
    """Retry the batch's failed jobs together (operator)"""
    batches.progress(batch_id)
    new_ids = batches.retry_failed(batch_id, current_user.id, viewer_of(current_user))
    return {"retried": len(new_ids), "job_ids": new_ids}, 202


@api_route("/alerts", ["GET"], responses={200: list[Alert]})
def list_alerts():
    """Open alerts"""
    return [alert.to_dict() for alert in alerts.open_alerts()]


@api_route("/consumers", ["GET"], responses={200: list[Consumer]})
def list_consumers():
    """Consumers that are alive (heartbeat within 30 s)"""
    return [
        {
            "id": c.id,
            "workers": c.workers,
            "started_at": isoformat(c.started_at),
            "heartbeat_at": isoformat(c.heartbeat_at),
        }
        for c in consumers.live_consumers()
    ]
