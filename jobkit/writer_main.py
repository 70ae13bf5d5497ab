"""The writer process itself (``python -m jobkit.writer_main``), started by ``WriterProcess``:
it reads batches of job-state events from stdin, writes each through ``store.write_events`` and
answers on stdout with None or the error's text (the protocol is in ``jobkit.writer``)."""

from __future__ import annotations

import logging
import os
import signal

from sqlalchemy import create_engine

import webapp.extensions  # noqa: F401  (its connect hook sets SQLite's pragmas)
from jobkit.store import write_events
from jobkit.writer import receive, send

log = logging.getLogger("jobkit.writer")


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="job writer: %(levelname)s %(message)s")
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print must not end up in the replies
    received, url = receive(requests)
    if not received or url is None:
        return
    engine = create_engine(url, pool_pre_ping=True)
    try:
        while True:
            received, events = receive(requests)
            if not received or events is None:
                return
            try:
                write_events(engine, events)
                error = None
            except Exception as exc:  # reported to the consumer, which keeps the changes
                log.exception("could not write %d job states", len(events))
                error = f"{type(exc).__name__}: {exc}"
            try:
                send(replies, error)
            except BrokenPipeError:
                return
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
