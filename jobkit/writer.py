"""The job-state writer: a process of its own that a consumer hands its batches of job-state
changes to, so that turning them into SQL, and the driver's work, do not take the consumer's
GIL from the worker threads (the consumer's part is one pickle and one pipe write per batch; it
then waits, without the GIL, for the writer to say the batch is written; README, Benchmark,
says what this was measured to save).

Protocol, over the child's stdin and stdout: length-prefixed pickles. The first message is the
database URL; each further one a batch, a list of events (``jobkit.store``), answered with None once
written or with the error's text; an empty message asks the writer to stop. The writer ignores
SIGINT and SIGTERM (Ctrl-C reaches the whole process group): it stops when its consumer says so
or goes away, after the batch in hand.
"""

from __future__ import annotations

import logging
import os
import pickle
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)
_HEADER = struct.Struct(">I")


class WriterGone(Exception):
    """The writer process stopped answering; its consumer writes for itself from now on."""


def send(stream: IO[bytes], message: Any) -> None:
    """Write one length-prefixed pickle (None as an empty message) and flush it."""
    data = b"" if message is None else pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def receive(stream: IO[bytes]) -> tuple[bool, Any]:
    """(True, message), (True, None) for an empty message, or (False, None) at end of stream."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return False, None
    (size,) = _HEADER.unpack(header)
    if not size:
        return True, None
    data = stream.read(size)
    if len(data) < size:
        return False, None
    return True, pickle.loads(data)


def can_write_for(engine: Engine) -> bool:
    """Whether another process can reach this database (not an in-memory SQLite one)."""
    url = engine.url
    return not (url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"))


class WriterProcess:
    """The consumer's end: starts the writer and hands it batches, one at a time."""

    def __init__(self, engine: Engine) -> None:
        self._lock = threading.Lock()
        # the writer imports this package from where this process found it
        root = str(Path(__file__).resolve().parents[2])
        path = os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))
        self._process = subprocess.Popen(
            [sys.executable, "-m", "jobkit.writer_main"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": path},
        )
        send(self._process.stdin, engine.url.render_as_string(hide_password=False))

    def write(self, events: list[tuple]) -> None:
        """Have the batch written; raises RuntimeError if the writer could not write it and
        WriterGone if the writer is no more."""
        with self._lock:
            try:
                send(self._process.stdin, events)
                received, error = receive(self._process.stdout)
            except (OSError, ValueError) as exc:
                raise WriterGone(str(exc)) from exc
        if not received:
            raise WriterGone(f"the job writer exited with {self._process.poll()}")
        if error is not None:
            raise RuntimeError(f"the job writer could not write a batch: {error}")

    def abandon(self) -> None:
        """Make sure a writer that stopped answering is gone."""
        self._process.kill()
        self._process.wait()

    def stop(self) -> None:
        with self._lock:
            try:
                send(self._process.stdin, None)
                self._process.stdin.close()
            except (OSError, ValueError):
                pass
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.abandon()
