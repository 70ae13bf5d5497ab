"""The audit log: one row per action that changed state, with who did it and from where."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.base import IDS_NEVER_REUSED, UTCDateTime, isoformat, utcnow

CHANNELS = ("page", "api", "cli", "system")


class AuditEntry(db.Model):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # Kept when the user is deleted: ``actor`` still names who it was.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The user's e-mail, "cli:<os user>" or "system".
    actor: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str] = mapped_column(String(10))
    action: Mapped[str] = mapped_column(String(50))
    target_type: Mapped[str | None] = mapped_column(String(50))
    target_id: Mapped[str | None] = mapped_column(String(200))
    # Bulk actions: how many rows, and the filter that chose them.
    count: Mapped[int | None]
    filters: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Edits: {"field": [before, after]}; other actions: what else is worth knowing.
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ip: Mapped[str | None] = mapped_column(String(45))

    __table_args__ = (
        Index("ix_audit_log_actor", "actor", "id"),
        Index("ix_audit_log_action", "action", "id"),
        Index("ix_audit_log_target", "target_type", "target_id", "id"),
        IDS_NEVER_REUSED,
    )

    def to_dict(self) -> dict[str, Any]:
        """The contract's audit row (plus ``filters``, the filter that chose a bulk action's
        rows)."""
        target = None
        if self.target_type is not None:
            ident: Any = self.target_id
            if ident is not None and ident.isdigit():
                ident = int(ident)
            target = {"type": self.target_type, "id": ident}
        return {
            "id": self.id,
            "at": isoformat(self.at),
            "actor": self.actor,
            "channel": self.channel,
            "action": self.action,
            "target": target,
            "count": self.count,
            "filters": self.filters,
            "changes": self.changes,
            "ip": self.ip,
        }


class AuditedRecord(db.Model):
    """A record one bulk audit row acted on, so that each record's page can say who did it."""

    __tablename__ = "audit_log_records"

    entry_id: Mapped[int] = mapped_column(
        ForeignKey("audit_log.id", ondelete="CASCADE"), primary_key=True
    )
    target_type: Mapped[str] = mapped_column(String(50), primary_key=True)
    target_id: Mapped[str] = mapped_column(String(200), primary_key=True)

    __table_args__ = (Index("ix_audit_log_records_target", "target_type", "target_id"),)
