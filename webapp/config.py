"""Settings from the environment (the contract's variables), with development defaults."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

# Rows per page of each list (see webapp.services.listing.page_size).
DEFAULT_PAGE_SIZES = {
    "jobs": 50,
    "failed": 100,
    "batches": 50,
    "series": 50,
    "schedules": 25,
    "imports": 25,
    "exports": 25,
    "integrations": 25,
}


def _secret_key(instance_path: Path) -> str:
    """The SECRET_KEY from the environment, or one generated once into the instance folder."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def parse_retry_delays(value: str) -> list[int]:
    """Parse ``RETRY_DELAYS`` ("60,300,600") into whole seconds; raise ValueError when malformed."""
    delays = [int(part) for part in value.split(",") if part.strip()]
    if any(delay < 0 for delay in delays):
        raise ValueError("RETRY_DELAYS must be non-negative whole seconds")
    return delays


def settings_from_environment(instance_path: Path) -> dict[str, Any]:
    """Every setting the app reads, from the environment with defaults under ``instance/``."""
    env = os.environ.get
    return {
        "SQLALCHEMY_DATABASE_URI": env("DATABASE_URL")
        or f"sqlite:///{instance_path / 'jobdeck.db'}",
        "QUEUE_URL": env("QUEUE_URL") or f"sqlite:///{instance_path / 'queue.db'}",
        "SECRET_KEY": _secret_key(instance_path),
        "DATA_DIR": env("DATA_DIR") or str(instance_path / "files"),
        "TVMAZE_URL": env("TVMAZE_URL") or "https://api.tvmaze.com",
        "RETRY_DELAYS": parse_retry_delays(env("RETRY_DELAYS") or "60,300,600"),
        "ALERT_FAILED_PER_HOUR": int(env("ALERT_FAILED_PER_HOUR") or 10),
        "ALERT_WEBHOOK_URL": env("ALERT_WEBHOOK_URL") or "",
        "METRICS_TOKEN": env("METRICS_TOKEN") or "",
        "DISPLAY_TIMEZONE": env("DISPLAY_TIMEZONE") or "UTC",
        # Seconds a consumer may hold job-state changes before writing them in one transaction.
        "JOB_LOG_FLUSH_SECONDS": float(env("JOB_LOG_FLUSH_SECONDS") or 0.05),
        "JOB_LOG_WRITER": env("JOB_LOG_WRITER") or "process",
        # Finished job logs older than this are deleted by the daily prune.
        "JOB_LOG_RETENTION_DAYS": int(env("JOB_LOG_RETENTION_DAYS") or 30),
        # Audit rows older than this are deleted by the same daily prune, on their own clock.
        "AUDIT_RETENTION_DAYS": int(env("AUDIT_RETENTION_DAYS") or 365),
        # Uploads larger than this are refused with 413.
        "IMPORT_MAX_BYTES": int(env("IMPORT_MAX_BYTES") or 20 * 1024 * 1024),
        # Export files are deleted this many days after they were made.
        "EXPORT_EXPIRY_DAYS": int(env("EXPORT_EXPIRY_DAYS") or 7),
        # Key names added to the built-in list whose values are never stored (see redaction).
        "REDACT_KEYS": [k.strip() for k in (env("REDACT_KEYS") or "").split(",") if k.strip()],
        # Encrypts integration secrets at rest; empty: a key derived from SECRET_KEY.
        "ENCRYPTION_KEY": env("ENCRYPTION_KEY") or "",
        # 1: integrations, webhooks and TVmaze may reach loopback and private addresses.
        "OUTBOUND_ALLOW_PRIVATE": _flag(env("OUTBOUND_ALLOW_PRIVATE")),
        "OUTBOUND_MAX_BYTES": int(env("OUTBOUND_MAX_BYTES") or 5 * 1024 * 1024),
        "OUTBOUND_TIMEOUT_SECONDS": float(env("OUTBOUND_TIMEOUT_SECONDS") or 15),
        # 1: the app is behind a reverse proxy whose X-Forwarded-* headers are to be believed.
        "TRUST_PROXY_HEADERS": _flag(env("TRUST_PROXY_HEADERS")),
        # Failed sign-ins allowed per account and per address in the window, then 429.
        "LOGIN_MAX_FAILURES": int(env("LOGIN_MAX_FAILURES") or 5),
        "LOGIN_WINDOW_SECONDS": int(env("LOGIN_WINDOW_SECONDS") or 15 * 60),
        "HUEY_IMMEDIATE": False,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "WTF_CSRF_TIME_LIMIT": None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Rows per page of each list, in one place (an app may still set JOBS_PAGE_SIZE).
        "PAGE_SIZES": dict(DEFAULT_PAGE_SIZES),
    }
