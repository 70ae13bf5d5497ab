"""Per-user integrations that poll an outside service on their own frequency."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.base import IDS_NEVER_REUSED, UTCDateTime, isoformat, utcnow


class Integration(db.Model):
    __tablename__ = "integrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    service: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(100))
    # As shown: secrets only as their last 4 characters. The settings as entered, secrets and
    # all, are kept encrypted (vault) when they hold any.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    encrypted_settings: Mapped[str | None] = mapped_column(Text)
    update_frequency_minutes: Mapped[int] = mapped_column(default=60)
    active: Mapped[bool] = mapped_column(default=True)
    last_triggered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_successful_update_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The latest snapshot the plugin fetched, its fingerprint, and when it last changed.
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    data_hash: Mapped[str | None] = mapped_column(String(64))
    data_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_integrations_user_id", "user_id"),
        Index("ix_integrations_due", "active", "last_successful_update_at"),
        IDS_NEVER_REUSED,
    )

    @property
    def processing(self) -> bool:
        """Triggered and not yet finished: triggered after the last success."""
        if self.last_triggered_at is None:
            return False
        return (
            self.last_successful_update_at is None
            or self.last_triggered_at > self.last_successful_update_at
        )

    @property
    def last_attempt_ended_at(self) -> datetime | None:
        """Its last success or its last final failure, whichever is later."""
        ends = [t for t in (self.last_successful_update_at, self.last_error_at) if t is not None]
        return max(ends) if ends else None

    def is_due(self, now: datetime | None = None) -> bool:
        """Never tried, or its frequency has passed since its last success or final failure
        (a failing upstream is asked again once per frequency, not at every check)."""
        if not self.active or self.processing:
            return False
        ended = self.last_attempt_ended_at
        if ended is None:
            return True
        now = now or utcnow()
        return ended + timedelta(minutes=self.update_frequency_minutes) <= now

    @property
    def state(self) -> str:
        if not self.active:
            return "paused"
        if self.processing:
            return "processing"
        if self.last_error and (
            self.last_successful_update_at is None
            or (self.last_error_at and self.last_error_at > self.last_successful_update_at)
        ):
            return "failed"
        if self.is_due():
            return "due"
        return "up to date"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user_id": self.user_id,
            "service": self.service,
            "name": self.name,
            "settings": self.settings,
            "update_frequency_minutes": self.update_frequency_minutes,
            "active": self.active,
            "state": self.state,
            "last_triggered_at": isoformat(self.last_triggered_at),
            "last_successful_update_at": isoformat(self.last_successful_update_at),
            "last_error": self.last_error,
            "data_changed_at": isoformat(self.data_changed_at),
        }


class RateLimitBucket(db.Model):
    """A token bucket shared by every process that talks to one outside service."""

    __tablename__ = "rate_limit_buckets"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    tokens: Mapped[float]
    updated_at: Mapped[float]  # seconds since the epoch
