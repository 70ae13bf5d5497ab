"""The TVmaze client: httpx with timeouts, one connection pool per process, and TVmaze's limit
of 20 calls per 10 seconds shared by all workers through the database."""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
from flask import current_app

from webapp.extensions import db
from webapp.services import outbound
from webapp.services.rate_limit import TokenBucket

log = logging.getLogger(__name__)

CALLS_PER_PERIOD = 20
PERIOD_SECONDS = 10
MAX_RETRY_AFTER = 60.0
UPDATE_WINDOWS = {"day": 24, "week": 24 * 7, "month": 24 * 31}  # hours each `since` covers


class TVmazeError(Exception):
    """TVmaze answered in a way we cannot use."""


class ShowNotFound(TVmazeError):
    """404: the show or episode does not exist (any more). Asking again will not help."""


class UpstreamUnavailable(TVmazeError):
    """5xx, a timeout or no connection: worth trying again later."""


class TVmazeClient:
    def __init__(self, base_url: str, bucket: TokenBucket) -> None:
        self.bucket = bucket
        self.http = outbound.client(
            base_url=base_url.rstrip("/"),
            headers={"User-Agent": "Jobdeck (+https://github.com/jobdeck)"},
        )

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET a TVmaze path as JSON, within the shared rate limit; 429 waits for Retry-After."""
        for _ in range(4):
            self.bucket.acquire()
            try:
                response = outbound.send(self.http, "GET", path, params=params)
            except outbound.OutboundError as exc:
                raise TVmazeError(f"TVmaze at {path}: {exc}") from exc
            except httpx.TimeoutException as exc:
                raise UpstreamUnavailable(f"TVmaze timed out on {path}") from exc
            except httpx.TransportError as exc:
                raise UpstreamUnavailable(f"TVmaze cannot be reached ({exc})") from exc
            if response.status_code == 429:
                wait = _retry_after(response)
                log.warning("TVmaze said 429 on %s; everyone waits %.1f s", path, wait)
                self.bucket.pause(wait)
                time.sleep(wait)
                continue
            if response.status_code == 404:
                raise ShowNotFound(f"TVmaze has nothing at {path}")
            if response.status_code >= 500:
                raise UpstreamUnavailable(f"TVmaze answered {response.status_code} on {path}")
            if response.status_code >= 400:
                raise TVmazeError(f"TVmaze answered {response.status_code} on {path}")
            try:
                return response.json()
            except ValueError as exc:
                raise UpstreamUnavailable(
                    f"TVmaze sent something that is not JSON on {path}"
                ) from exc
        raise UpstreamUnavailable(f"TVmaze kept answering 429 on {path}")

    def show(self, tvmaze_id: int) -> dict[str, Any]:
        return self.get(f"/shows/{tvmaze_id}")

    def lookup_tvdb(self, tvdb_id: int) -> dict[str, Any]:
        return self.get("/lookup/shows", {"thetvdb": tvdb_id})

    def episodes(self, tvmaze_id: int) -> list[dict[str, Any]]:
        return self.get(f"/shows/{tvmaze_id}/episodes")

    def episode(self, episode_id: int) -> dict[str, Any]:
        return self.get(f"/episodes/{episode_id}")

    def updated_shows(self, since: str) -> dict[int, int]:
        """Show id -> last upstream change (epoch seconds) for shows changed within ``since``."""
        return {int(k): int(v) for k, v in self.get("/updates/shows", {"since": since}).items()}


def _retry_after(response: outbound.Response) -> float:
    try:
        return min(max(float(response.headers.get("Retry-After", "10")), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        return 10.0


def tvmaze() -> TVmazeClient:
    """This process's client for the configured TVMAZE_URL (one connection pool, reused)."""
    app = current_app._get_current_object()
    client = app.extensions.get("tvmaze")
    if client is None:
        bucket = TokenBucket(db.engine, "tvmaze", CALLS_PER_PERIOD, PERIOD_SECONDS)
        client = TVmazeClient(app.config["TVMAZE_URL"], bucket)
        app.extensions["tvmaze"] = client
    return client
