"""A consumer's Redis buffer (jobkit.prefetch): what it took goes back when it stops, and what a
killed consumer took is found by the upkeep of the others."""

from datetime import timedelta

import pytest
import redis
from huey.constants import EmptyData

from jobkit import Call, huey, prefetch
from tasks.samples import noop, sample_job
from tasks.upkeep import return_taken_of_lost_consumers
from tests.conftest import REDIS_URL, make_app, needs_redis
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import Consumer, JobLog

pytestmark = needs_redis


@pytest.fixture
def redis_app(tmp_path, monkeypatch):
    redis.Redis.from_url(REDIS_URL).flushdb()
    # the second fill takes PREFETCH_MAX however slowly this machine goes
    monkeypatch.setattr(prefetch, "PREFETCH_SECONDS", 60.0)
    app = make_app("sqlite", tmp_path, monkeypatch, QUEUE_URL=REDIS_URL, HUEY_IMMEDIATE=False)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def take_two() -> list[int]:
    """Dequeue twice as a consumer does: the first fill takes one, the second up to 32."""
    return [int(huey.dequeue().id) for _ in range(2)]


def queued_ids() -> list[int]:
    return [int(huey.deserialize_task(data).id) for data in huey.storage.enqueued_items()]


def test_a_stopping_consumer_puts_what_it_took_and_did_not_start_back_in_order(redis_app):
    ids = noop.dispatch_many([Call() for _ in range(40)])
    huey.storage.start_prefetching("box:1")
    started = take_two()
    assert huey.pending_count() == 40 - 1 - prefetch.PREFETCH_MAX  # the rest wait in the buffer
    assert huey.storage.give_back() == prefetch.PREFETCH_MAX - 1
    assert huey.dequeue() is None  # a stopped consumer takes no more
    assert started + queued_ids() == ids
    assert huey.storage.takers() == []


def test_what_a_killed_consumer_took_is_requeued_or_failed_by_the_others(redis_app):
    hour_ago = utcnow() - timedelta(hours=1)
    db.session.add(Consumer(id="box:1", hostname="box", pid=1, workers=2, heartbeat_at=hour_ago))
    db.session.add(Consumer(id="box:2", hostname="box", pid=2, workers=2, heartbeat_at=utcnow()))
    db.session.commit()
    kept_alive = sample_job.dispatch(steps=1, step_seconds=0)
    alive = huey.create_storage()  # box:2, another consumer, has taken a job and is alive
    alive.start_prefetching("box:2")
    assert int(huey.deserialize_task(alive.dequeue()).id) == kept_alive
    rerunnable = [sample_job.dispatch(steps=1, step_seconds=0) for _ in range(6)]
    not_safe = noop.dispatch()
    huey.storage.start_prefetching("box:1")
    assert take_two() == rerunnable[:2]
    # box:1 is killed here, with five jobs in its buffer

    assert return_taken_of_lost_consumers() == {"requeued": 5, "failed": 1}
    # back in their places; the one box:1 handed out last (its row still pending) runs again
    assert queued_ids() == rerunnable[1:]
    failed = db.session.get(JobLog, not_safe)
    assert failed.status == "failed" and failed.error.startswith("WorkerLost: consumer box:1")
    assert "not marked safe to re-run" in failed.message
    assert huey.storage.takers() == ["box:2"]
    assert db.session.get(JobLog, kept_alive).status == "pending"
    assert return_taken_of_lost_consumers() == {"requeued": 0, "failed": 0}


def test_a_cancelled_job_is_skipped_once_and_leaves_no_flag_behind(redis_app):
    cancelled, kept = noop.dispatch(), noop.dispatch()
    assert (
        redis_app.test_cli_runner().invoke(args=["jobs", "cancel", str(cancelled)]).exit_code == 0
    )
    huey.storage.start_prefetching("box:1")
    for _ in range(2):
        huey.execute(huey.dequeue())
    assert db.session.get(JobLog, cancelled).status == "cancelled"
    assert db.session.get(JobLog, kept).status == "completed"
    assert huey.storage.peek_data(f"r:{cancelled}") is EmptyData  # later tasks skip the read
