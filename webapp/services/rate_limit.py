"""A token bucket in the database, shared by every web process and consumer.

Taking a token is one conditional UPDATE (refill by elapsed time, then take one if there is one),
which is atomic on SQLite and PostgreSQL alike, so any number of workers on any number of machines
together stay under the limit.
"""

from __future__ import annotations

import time

from sqlalchemy import case, insert, literal, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from webapp.models.integrations import RateLimitBucket

table = RateLimitBucket.__table__


class RateLimitTimeout(Exception):
    """No token came free within the time the caller was willing to wait."""


class TokenBucket:
    """Never more than ``limit`` calls in any ``period`` seconds.

    A bucket of capacity C refilled at r tokens/s lets C + r·T calls through in T seconds, so it
    holds half the limit and refills the other half over the period: a burst of limit/2 at once,
    then limit/(2·period) calls a second, and no window ever sees more than ``limit``.
    """

    def __init__(self, engine: Engine, name: str, limit: int, period: float) -> None:
        self.engine = engine
        self.name = name
        self.capacity = limit / 2
        self.rate = limit / (2 * period)
        self._created = False

    def _ensure_row(self) -> None:
        if self._created:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(table).values(
                        name=self.name, tokens=self.capacity, updated_at=time.time()
                    )
                )
        except IntegrityError:
            pass  # another process created it first
        self._created = True

    def try_acquire(self) -> float:
        """Take a token if one is free: returns 0, or the seconds until one will be."""
        self._ensure_row()
        now = time.time()
        refilled = table.c.tokens + (literal(now) - table.c.updated_at) * self.rate
        available = case((refilled > self.capacity, self.capacity), else_=refilled)
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(table)
                .where(table.c.name == self.name, available >= 1)
                .values(tokens=available - 1, updated_at=now)
            ).rowcount
            if taken:
                return 0.0
            tokens, updated_at = conn.execute(
                select(table.c.tokens, table.c.updated_at).where(table.c.name == self.name)
            ).one()
        current = min(self.capacity, tokens + (now - updated_at) * self.rate)
        return max((1 - current) / self.rate, 0.001)

    def acquire(self, max_wait: float = 120.0) -> float:
        """Wait for a token; returns the seconds waited. RateLimitTimeout past ``max_wait``."""
        waited = 0.0
        while True:
            wait = self.try_acquire()
            if wait == 0:
                return waited
            if waited + wait > max_wait:
                raise RateLimitTimeout(f"{self.name}: no call allowed within {max_wait:g} s")
            time.sleep(wait)
            waited += wait

    def pause(self, seconds: float) -> None:
        """Empty the bucket so that nobody calls for ``seconds`` (after a 429 Retry-After)."""
        self._ensure_row()
        with self.engine.begin() as conn:
            conn.execute(
                update(table)
                .where(table.c.name == self.name)
                .values(tokens=-seconds * self.rate, updated_at=time.time())
            )
