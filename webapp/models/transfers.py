"""Imports of CSV/XLSX files with their refused rows, and exports built in the background."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.base import IDS_NEVER_REUSED, UTCDateTime, isoformat, utcnow

# What an import's or export's status can be: its job's, and for an export, expired.
IMPORT_STATUSES = ("pending", "running", "completed", "failed", "cancelled")
EXPORT_STATUSES = (*IMPORT_STATUSES, "expired")


class Import(db.Model):
    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    importer: Mapped[str] = mapped_column(String(50))
    filename: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(String(500))
    size: Mapped[int] = mapped_column(default=0)
    dry_run: Mapped[bool] = mapped_column(default=False)
    # one of IMPORT_STATUSES
    status: Mapped[str] = mapped_column(String(20), default="pending")
    total_rows: Mapped[int] = mapped_column(default=0)
    processed_rows: Mapped[int] = mapped_column(default=0)
    created_rows: Mapped[int] = mapped_column(default=0)
    updated_rows: Mapped[int] = mapped_column(default=0)
    failed_rows: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    job_log_id: Mapped[int | None] = mapped_column(ForeignKey("job_logs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Deleting a job log looks up what links to it (ON DELETE SET NULL), once per row.
    __table_args__ = (
        Index("ix_imports_user_id", "user_id", "id"),
        Index("ix_imports_job_log_id", "job_log_id"),
        IDS_NEVER_REUSED,
    )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "importer": self.importer,
            "filename": self.filename,
            "dry_run": self.dry_run,
            "status": self.status,
            "total_rows": self.total_rows,
            "processed_rows": self.processed_rows,
            "created_rows": self.created_rows,
            "updated_rows": self.updated_rows,
            "failed_rows": self.failed_rows,
            "error": self.error,
            "job_log_id": self.job_log_id,
            "user_id": self.user_id,
            "created_at": isoformat(self.created_at),
            "finished_at": isoformat(self.finished_at),
        }


class FailedImportRow(db.Model):
    __tablename__ = "failed_import_rows"

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"))
    row_number: Mapped[int]
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    errors: Mapped[dict[str, list[str]]] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_failed_import_rows_import", "import_id", "row_number"),
        IDS_NEVER_REUSED,
    )

    def to_dict(self) -> dict[str, Any]:
        return {"row_number": self.row_number, "data": self.data, "errors": self.errors}


class Export(db.Model):
    __tablename__ = "exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset: Mapped[str] = mapped_column(String(50))
    format: Mapped[str] = mapped_column(String(10))
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # one of EXPORT_STATUSES
    status: Mapped[str] = mapped_column(String(20), default="pending")
    rows: Mapped[int] = mapped_column(default=0)
    total_rows: Mapped[int | None]
    path: Mapped[str | None] = mapped_column(String(500))
    size: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    job_log_id: Mapped[int | None] = mapped_column(ForeignKey("job_logs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_exports_user_id", "user_id", "id"),
        Index("ix_exports_expires_at", "expires_at"),
        Index("ix_exports_job_log_id", "job_log_id"),
        IDS_NEVER_REUSED,
    )

    @property
    def progress(self) -> int:
        if self.status == "completed":
            return 100
        if not self.total_rows:
            return 0
        return min(99, round(100 * self.rows / self.total_rows))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "dataset": self.dataset,
            "format": self.format,
            "filters": self.filters,
            "status": self.status,
            "rows": self.rows,
            "total_rows": self.total_rows,
            "progress": self.progress,
            "size": self.size,
            "error": self.error,
            "job_log_id": self.job_log_id,
            "user_id": self.user_id,
            "created_at": isoformat(self.created_at),
            "finished_at": isoformat(self.finished_at),
            "expires_at": isoformat(self.expires_at),
        }
