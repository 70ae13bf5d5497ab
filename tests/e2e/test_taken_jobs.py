"""Jobs a consumer takes ahead of running them (a few at a time on Redis): pauses still hold
them, and a consumer stopped mid-drain leaves none behind."""

import signal

from sqlalchemy import func, select

from jobkit import Call, huey, pauses
from tasks.samples import noop
from tests.e2e.conftest import wait_for
from webapp.extensions import db
from webapp.models.jobs import JobLog


def count(*where) -> int:
    return db.session.scalar(select(func.count()).select_from(JobLog).where(*where))


def test_a_paused_queue_holds_the_jobs_a_consumer_has_already_taken(e2e):
    ids = noop.dispatch_many([Call() for _ in range(300)])
    pauses.pause("queue", "default")
    e2e["start"](workers=2)
    wait_for(
        lambda: (
            count(JobLog.id.in_(ids), JobLog.message.like("Waiting: the default queue%"))
            == len(ids)
        ),
        timeout=60,
        what="every job to say it waits",
    )
    assert count(JobLog.id.in_(ids), JobLog.started_at.is_not(None)) == 0
    pauses.resume("queue", "default")
    wait_for(
        lambda: count(JobLog.id.in_(ids), JobLog.status == "completed") == len(ids),
        timeout=40,
        what="every job to run once resumed",
    )


def test_a_consumer_stopped_mid_drain_leaves_every_job_to_the_next(e2e):
    ids = noop.dispatch_many([Call() for _ in range(3000)])
    first = e2e["start"](workers=2)
    wait_for(
        lambda: count(JobLog.id.in_(ids), JobLog.status == "completed") > 0,
        timeout=60,  # a consumer starts slowly on a busy machine
        what="the drain to begin",
    )
    first.stop(signal.SIGINT)
    assert count(JobLog.id.in_(ids), JobLog.status == "running") == 0
    left = count(JobLog.id.in_(ids), JobLog.status == "pending")
    assert huey.pending_count() == left  # none of them is held by the stopped consumer
    e2e["start"](workers=2)
    wait_for(
        lambda: count(JobLog.id.in_(ids), JobLog.status == "completed") == len(ids),
        timeout=60,
        what="the second consumer to finish the drain",
    )
    assert count(JobLog.id.in_(ids), JobLog.attempts != 1) == 0  # each ran once
