"""TV series and their episodes, kept fresh from TVmaze."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import IDS_NEVER_REUSED, UTCDateTime, isoformat, utcnow


class SyncStatus(enum.StrEnum):
    PENDING = "pending"
    SYNCED = "synced"
    FAILED = "failed"


class Series(db.Model):
    __tablename__ = "series"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    tvmaze_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    tvdb_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    imdb_id: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str | None] = mapped_column(String(50))
    premiered: Mapped[date | None]
    ended: Mapped[date | None]
    language: Mapped[str | None] = mapped_column(String(50))
    genres: Mapped[list[str] | None] = mapped_column(db.JSON)
    network: Mapped[str | None] = mapped_column(String(100))
    summary: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(String(500))
    upstream_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set only by a data job, after a successful import.
    data_last_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "gone" when TVmaze answers 404 for it: it is not asked again until someone resets it.
    upstream_state: Mapped[str] = mapped_column(String(20), default="ok")
    last_error: Mapped[str | None] = mapped_column(Text)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    episodes: Mapped[list[Episode]] = relationship(
        back_populates="series",
        cascade="all, delete-orphan",
        order_by="Episode.season, Episode.number",
    )

    __table_args__ = (
        Index("ix_series_data_last_updated_at", "data_last_updated_at"),
        Index("ix_series_name", "name"),
        IDS_NEVER_REUSED,
    )

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if self.tvmaze_id:
            return f"TVmaze show {self.tvmaze_id}"
        return f"TheTVDB show {self.tvdb_id}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "tvmaze_id": self.tvmaze_id,
            "tvdb_id": self.tvdb_id,
            "imdb_id": self.imdb_id,
            "status": self.status,
            "premiered": self.premiered.isoformat() if self.premiered else None,
            "network": self.network,
            "upstream_state": self.upstream_state,
            "last_error": self.last_error,
            "data_last_updated_at": isoformat(self.data_last_updated_at),
            "created_at": isoformat(self.created_at),
        }


class Episode(db.Model):
    __tablename__ = "episodes"

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"))
    tvmaze_id: Mapped[int] = mapped_column(Integer, unique=True)
    season: Mapped[int | None]
    number: Mapped[int | None]
    name: Mapped[str | None] = mapped_column(String(255))
    airdate: Mapped[date | None]
    airstamp: Mapped[datetime | None] = mapped_column(UTCDateTime)
    runtime: Mapped[int | None]
    summary: Mapped[str | None] = mapped_column(Text)
    data_last_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sync_status: Mapped[str] = mapped_column(String(20), default=SyncStatus.PENDING.value)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    series: Mapped[Series] = relationship(back_populates="episodes")

    __table_args__ = (
        Index("ix_episodes_series_id", "series_id", "season", "number"),
        Index("ix_episodes_sync_status", "sync_status", "series_id"),
        Index("ix_episodes_data_last_updated_at", "data_last_updated_at"),
        IDS_NEVER_REUSED,
    )

    @property
    def code(self) -> str:
        if self.season is None or self.number is None:
            return "special"
        return f"S{self.season:02d}E{self.number:02d}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "series_id": self.series_id,
            "tvmaze_id": self.tvmaze_id,
            "season": self.season,
            "number": self.number,
            "name": self.name,
            "airdate": self.airdate.isoformat() if self.airdate else None,
            "sync_status": self.sync_status,
            "last_error": self.last_error,
            "data_last_updated_at": isoformat(self.data_last_updated_at),
        }
