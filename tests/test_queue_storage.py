"""The queue storages themselves: priorities and bulk enqueueing on SQLite and Redis."""

import threading

import pytest
import redis
from huey.constants import EmptyData

from jobkit import Call, huey
from jobkit.queue import storage_for_url
from tasks.samples import noop
from tests.conftest import REDIS_URL, make_app, needs_redis
from webapp.extensions import db

QUEUES = ["sqlite", pytest.param("redis", marks=needs_redis)]


@pytest.fixture(params=QUEUES)
def queue_app(request, tmp_path, monkeypatch):
    if request.param == "redis":
        redis.Redis.from_url(REDIS_URL).flushdb()
        url = REDIS_URL
    else:
        url = f"sqlite:///{tmp_path / 'queue.db'}"
    app = make_app("sqlite", tmp_path, monkeypatch, QUEUE_URL=url, HUEY_IMMEDIATE=False)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_the_storage_hands_out_high_before_default_before_low(queue_app):
    low = noop.dispatch(queue="low")
    default = noop.dispatch(queue="default")
    high = [noop.dispatch(queue="high") for _ in range(2)]
    order = [int(huey.dequeue().id) for _ in range(4)]
    assert order == [*high, default, low]
    assert huey.dequeue() is None


def test_bulk_enqueue_keeps_fifo_order(queue_app):
    ids = noop.dispatch_many([Call() for _ in range(2000)], queue="low")
    assert huey.pending_count() == 2000
    assert [int(huey.dequeue().id) for _ in range(5)] == ids[:5]


def test_queue_urls():
    assert storage_for_url("redis://127.0.0.1:6379/0")[0].__name__ == "PrefetchingRedisStorage"
    assert storage_for_url("sqlite:////tmp/q.db")[1]["filename"] == "/tmp/q.db"
    with pytest.raises(ValueError, match="QUEUE_URL"):
        storage_for_url("amqp://rabbit")


def test_data_is_taken_once(queue_app):
    storage = huey.storage
    storage.put_data("revoke-me", b"flag")
    assert bytes(storage.pop_data("revoke-me")) == b"flag"
    assert storage.pop_data("revoke-me") is EmptyData
    assert not storage.delete_data("revoke-me")


def test_sqlite_consumers_sharing_a_file_take_each_task_once(tmp_path):
    storage_class, kwargs = storage_for_url(f"sqlite:///{tmp_path / 'queue.db'}")
    producer = storage_class("jobdeck", **kwargs)
    for i in range(4000):
        producer.enqueue(str(i).encode(), priority=i % 3)
    taken: list[list[bytes]] = [[] for _ in range(4)]

    def consume(into: list[bytes]) -> None:
        storage = storage_class("jobdeck", **kwargs)  # a connection of its own, as a process
        while (data := storage.dequeue()) is not None:
            into.append(bytes(data))

    threads = [threading.Thread(target=consume, args=(into,)) for into in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [data for into in taken for data in into]
    assert sorted(everything, key=int) == [str(i).encode() for i in range(4000)]
    for into in taken:  # each consumer saw higher priorities first, FIFO within one
        keys = [(-(int(d) % 3), int(d)) for d in into]
        assert keys == sorted(keys)
    assert producer.dequeue() is None and producer.queue_size() == 0
