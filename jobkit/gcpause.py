"""The cyclic garbage collector paused while a bulk operation builds many short-lived objects.

A bulk dispatch, a scheduler tick or an import chunk makes tens of thousands of dicts and tuples
that live until the batch is written. Each few hundred new containers start a collection, and
as they survive, collections of the oldest generation walk the whole heap (the app's modules,
SQLAlchemy's metadata) again and again: half the time of such a batch. Reference counting still
frees everything the batch drops; only the cycle search waits until the batch is done.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def collection_paused() -> Iterator[None]:
    """Pause cyclic collection for the block (nested and threaded blocks share one pause; the
    collector is switched back on when the last of them ends, if it was on before)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
