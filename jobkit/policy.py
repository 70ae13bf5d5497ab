"""How often and after how long a failed job is tried again."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from flask import current_app

OUTSIDE_SERVICE = "outside-service"  # delays: use the RETRY_DELAYS setting


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` retries after ``delays`` seconds each (the last repeats), or, with
    ``backoff``, after exponentially growing delays (backoff, 2x, 4x … up to ``max_delay``) with
    "equal jitter" (half fixed, half random) so that many failed jobs do not return in step.
    ``delays=OUTSIDE_SERVICE`` takes both the count and the delays from RETRY_DELAYS."""

    retries: int = 0
    delays: Sequence[float] | str = field(default=())
    backoff: float | None = None
    max_delay: float = 3600.0

    def retry_count(self) -> int:
        if self.delays == OUTSIDE_SERVICE:
            return len(current_app.config["RETRY_DELAYS"])
        return self.retries

    def max_attempts(self) -> int:
        return self.retry_count() + 1

    def delay_before_retry(self, retry_number: int) -> float:
        """Seconds to wait before retry ``retry_number`` (1 is the first retry)."""
        if self.delays == OUTSIDE_SERVICE:
            delays: Sequence[float] = current_app.config["RETRY_DELAYS"]
        elif self.backoff is not None:
            ceiling = min(self.max_delay, self.backoff * 2 ** (retry_number - 1))
            return round(ceiling / 2 + random.uniform(0, ceiling / 2), 3)
        else:
            delays = self.delays
        if not delays:
            return 0.0
        return float(delays[min(retry_number, len(delays)) - 1])
