"""The audit log, for admins."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from webapp.api.fields import QueryId, QueryText, QueryTime, query_limit
from webapp.api.routing import api_route
from webapp.api.schemas import Query
from webapp.models.audit import CHANNELS
from webapp.models.users import Role
from webapp.services import audit

Channel = Literal[CHANNELS]  # type: ignore[valid-type]


class AuditQuery(Query):
    actor: QueryText = Field(None, description="an e-mail, cli:<os user> or system")
    action: QueryText = Field(None, description="exact, or a prefix ending in * (schedule.*)")
    target_type: QueryText = None
    target_id: QueryText = None
    since: QueryTime = Field(None, description="at or after (ISO 8601)")
    until: QueryTime = Field(None, description="before (ISO 8601)")
    limit: query_limit(audit.MAX_PAGE) = 50
    cursor: QueryId = Field(None, description="next_cursor of the previous page")


class AuditTarget(BaseModel):
    type: str
    id: int | str | None


class AuditRow(BaseModel):
    id: int
    at: str
    actor: str = Field(description="an e-mail, cli:<os user> or system")
    channel: Channel
    action: str = Field(examples=["job.retry"])
    target: AuditTarget | None
    count: int | None
    filters: dict[str, Any] | None
    changes: dict[str, Any] | None
    ip: str | None


class AuditPage(BaseModel):
    items: list[AuditRow]
    next_cursor: int | None


@api_route("/audit", ["GET"], query=AuditQuery, role=Role.ADMIN, responses={200: AuditPage})
def list_audit(query: AuditQuery):
    """Audit rows, newest first, keyset-paginated (admin)"""
    filters = audit.AuditFilters(
        actor=query.actor,
        action=query.action,
        target_type=query.target_type,
        target_id=query.target_id,
        since=query.since,
        until=query.until,
    )
    items, next_cursor = audit.list_entries(filters, query.limit, query.cursor)
    return {"items": [e.to_dict() for e in items], "next_cursor": next_cursor}
