"""The audit log, for admins."""

from flask import jsonify

from webapp.api.blueprint import bp
from webapp.api.openapi import PATHS, _errors, _json, _query
from webapp.api.params import int_arg, str_arg, time_arg
from webapp.auth import role_required
from webapp.models.users import Role
from webapp.services import audit


@bp.get("/audit")
@role_required(Role.ADMIN)
def list_audit():
    filters = audit.AuditFilters(
        actor=str_arg("actor"),
        action=str_arg("action"),
        target_type=str_arg("target_type"),
        target_id=str_arg("target_id"),
        since=time_arg("since"),
        until=time_arg("until"),
    )
    items, next_cursor = audit.list_entries(
        filters, int_arg("limit", default=50, minimum=1), int_arg("cursor", minimum=1)
    )
    return jsonify({"items": [e.to_dict() for e in items], "next_cursor": next_cursor})


AUDIT_ROW = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "at": {"type": "string", "format": "date-time"},
        "actor": {"type": "string", "description": "an e-mail, cli:<os user> or system"},
        "channel": {"type": "string", "enum": ["page", "api", "cli", "system"]},
        "action": {"type": "string", "example": "job.retry"},
        "target": {"type": "object", "nullable": True},
        "count": {"type": "integer", "nullable": True},
        "filters": {"type": "object", "nullable": True},
        "changes": {"type": "object", "nullable": True},
        "ip": {"type": "string", "nullable": True},
    },
}
PATHS["/api/audit"] = {
    "get": {
        "summary": "Audit rows, newest first, keyset-paginated (admin)",
        "parameters": [
            _query("actor", description="an e-mail, cli:<os user> or system"),
            _query("action", description="exact, or a prefix ending in * (schedule.*)"),
            _query("target_type"),
            _query("target_id"),
            _query("since", format="date-time", description="at or after"),
            _query("until", format="date-time", description="before"),
            _query("limit", "integer", minimum=1, maximum=500, default=50),
            _query("cursor", "integer", minimum=1),
        ],
        "responses": {
            "200": _json(
                {
                    "type": "object",
                    "properties": {
                        "items": {"type": "array", "items": AUDIT_ROW},
                        "next_cursor": {"type": "integer", "nullable": True},
                    },
                }
            ),
            **_errors(400, 403),
        },
    }
}
