"""The collector pause of bulk operations: nested and threaded pauses end together, and the
collector's state before the first one comes back (also after an error, and after a bulk
dispatch)."""

import gc
import threading

import pytest

from jobkit import Call
from jobkit.dispatch import BULK
from jobkit.gcpause import collection_paused
from tasks.samples import noop


def test_pauses_nest_and_restore_the_collector():
    assert gc.isenabled()
    with collection_paused():
        assert not gc.isenabled()
        with collection_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()
    with pytest.raises(ValueError), collection_paused():
        raise ValueError("boom")
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off():
    gc.disable()
    try:
        with collection_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_pauses_in_two_threads_end_when_the_last_ends():
    inside, release = threading.Event(), threading.Event()

    def other():
        with collection_paused():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other)
    thread.start()
    inside.wait(5)
    with collection_paused():
        pass
    assert not gc.isenabled()  # the other thread's pause is still on
    release.set()
    thread.join()
    assert gc.isenabled()


def test_a_bulk_dispatch_leaves_the_collector_on(app):
    ids = noop.dispatch_many([Call() for _ in range(BULK)])
    assert len(set(ids)) == BULK and gc.isenabled()
