"""The OpenAPI 3 description of the API, served at /api/openapi.json."""

from typing import Any

from flask import jsonify

from webapp.api.blueprint import bp

ERROR = {"$ref": "#/components/schemas/Error"}
JOB_LOG = {"$ref": "#/components/schemas/JobLog"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(status): _json(ERROR, "Error") for status in (401, *statuses)}


def _query(name: str, schema_type: str = "string", required: bool = False, **extra: Any) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": {"type": schema_type, **extra},
    }


JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "integer"}}
SCHEDULE_ID = {"name": "schedule_id", "in": "path", "required": True, "schema": {"type": "integer"}}
SCHEDULE_RUN = {
    "type": "object",
    "properties": {
        "started_at": {"type": "string", "format": "date-time", "nullable": True},
        "finished_at": {"type": "string", "format": "date-time", "nullable": True},
        "exit_code": {"type": "integer", "nullable": True},
        "output": {"type": "string", "nullable": True},
        "job_log_id": {"type": "integer", "nullable": True},
        "status": {"type": "string"},
        "trigger": {"type": "string", "enum": ["schedule", "manual", "catch-up"]},
        "due_at": {"type": "string", "format": "date-time"},
    },
}
SCHEDULE = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "command": {"type": "string", "example": "series check-data-updates"},
        "parameters": {"type": "object", "example": {"--hours": "12"}},
        "cron": {"type": "string", "example": "0 3 * * *"},
        "cron_description": {"type": "string"},
        "timezone": {"type": "string", "example": "Europe/Berlin"},
        "active": {"type": "boolean"},
        "without_overlapping": {"type": "boolean"},
        "next_run_at": {"type": "string", "format": "date-time", "nullable": True},
        "last_run": {**SCHEDULE_RUN, "nullable": True},
    },
}
SCHEDULE_INPUT = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "description": {"type": "string"},
        "command": {"type": "string"},
        "parameters": {"type": "object"},
        "cron": {"type": "string"},
        "preset": {
            "type": "string",
            "enum": [
                "every_minute",
                "every_30_seconds",
                "hourly",
                "daily",
                "daily_at",
                "twice_daily",
                "weekly_on",
                "monthly_on",
            ],
        },
        "preset_at": {"type": "string", "example": "02:30"},
        "preset_day": {"type": "string", "example": "monday"},
        "preset_hours": {"type": "string", "example": "1,13"},
        "timezone": {"type": "string"},
        "queue": {"type": "string", "enum": ["high", "default", "low"]},
        "active": {"type": "boolean"},
        "without_overlapping": {"type": "boolean"},
        "success_window_minutes": {"type": "integer", "nullable": True},
    },
}
IMPORT_ID = {"name": "import_id", "in": "path", "required": True, "schema": {"type": "integer"}}
EXPORT_ID = {"name": "export_id", "in": "path", "required": True, "schema": {"type": "integer"}}
IMPORT = {
    "type": "object",
    "properties": {
        name: {"type": "integer"}
        for name in ("id", "total_rows", "processed_rows", "failed_rows", "job_log_id")
    }
    | {"importer": {"type": "string"}, "status": {"type": "string"}},
}
EXPORT = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "dataset": {"type": "string"},
        "format": {"type": "string"},
        "status": {"type": "string"},
        "rows": {"type": "integer"},
        "progress": {"type": "integer"},
        "job_log_id": {"type": "integer", "nullable": True},
    },
}
BATCH_ID = {"name": "batch_id", "in": "path", "required": True, "schema": {"type": "integer"}}
NULLABLE_TIME = {"type": "string", "format": "date-time", "nullable": True}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            }
        },
    },
    "JobLog": {
        "type": "object",
        "required": [
            "id",
            "task",
            "queue",
            "status",
            "progress",
            "attempts",
            "max_attempts",
            "payload",
            "message",
            "error",
            "traceback",
            "source",
            "user_id",
            "batch_id",
            "retry_of",
            "created_at",
            "started_at",
            "finished_at",
            "duration_s",
        ],
        "properties": {
            "id": {"type": "integer"},
            "task": {"type": "string"},
            "queue": {"type": "string", "enum": ["high", "default", "low"]},
            "status": {
                "type": "string",
                "enum": ["pending", "running", "completed", "failed", "cancelled"],
            },
            "progress": {"type": "integer", "minimum": 0, "maximum": 100},
            "attempts": {"type": "integer"},
            "max_attempts": {"type": "integer"},
            "payload": {"type": "object"},
            "message": {"type": "string", "nullable": True},
            "error": {"type": "string", "nullable": True},
            "traceback": {"type": "string", "nullable": True},
            "source": {
                "type": "object",
                "nullable": True,
                "properties": {"type": {"type": "string"}, "id": {"type": "integer"}},
            },
            "user_id": {"type": "integer", "nullable": True},
            "batch_id": {"type": "integer", "nullable": True},
            "retry_of": {"type": "integer", "nullable": True},
            "cancel_requested": {"type": "boolean"},
            "worker": {"type": "string", "nullable": True},
            "created_at": {"type": "string", "format": "date-time"},
            "started_at": NULLABLE_TIME,
            "finished_at": NULLABLE_TIME,
            "duration_s": {"type": "number", "nullable": True},
        },
    },
    "Queues": {
        "type": "object",
        "properties": {
            name: {"type": "integer"} for name in ("high", "default", "low", "running", "failed")
        },
    },
}

PATHS: dict[str, Any] = {
    "/api/openapi.json": {
        "get": {
            "summary": "This description",
            "security": [],
            "responses": {"200": _json({"type": "object"})},
        }
    },
    "/api/job-logs": {
        "get": {
            "summary": "Job logs, newest first (or oldest), keyset-paginated; searchable",
            "parameters": [
                _query("q", description="words in the arguments, payload or error"),
                _query("since", format="date-time", description="created at or after"),
                _query("until", format="date-time", description="created before"),
                _query("order", enum=["newest", "oldest"], default="newest"),
                _query("status", enum=["pending", "running", "completed", "failed", "cancelled"]),
                _query("task"),
                _query("queue", enum=["high", "default", "low"]),
                _query("source_type"),
                _query("source_id", "integer"),
                _query("batch_id", "integer"),
                _query("limit", "integer", minimum=1, maximum=500, default=50),
                _query("cursor", "integer", minimum=1),
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "items": {"type": "array", "items": JOB_LOG},
                            "next_cursor": {"type": "integer", "nullable": True},
                        },
                    }
                ),
                **_errors(400),
            },
        }
    },
    "/api/job-logs/stats": {
        "get": {
            "summary": "Counts by status, queue and task; failures in the last hour",
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "by_status": {"type": "object"},
                            "by_queue": {"type": "object"},
                            "by_task": {"type": "array", "items": {"type": "object"}},
                            "failed_last_hour": {"type": "integer"},
                            "avg_duration_s": {"type": "number", "nullable": True},
                        },
                    }
                ),
                **_errors(),
            },
        }
    },
    "/api/job-logs/{job_id}": {
        "get": {
            "summary": "One job log",
            "parameters": [JOB_ID],
            "responses": {"200": _json(JOB_LOG), **_errors(404)},
        }
    },
    "/api/job-logs/{job_id}/cancel": {
        "post": {
            "summary": "Cancel a pending job, or ask a running one to stop (operator)",
            "parameters": [JOB_ID],
            "responses": {"200": _json(JOB_LOG), **_errors(403, 404, 409)},
        }
    },
    "/api/job-logs/{job_id}/retry": {
        "post": {
            "summary": "Retry a failed or cancelled job as a new job (operator)",
            "parameters": [JOB_ID],
            "responses": {"202": _json(JOB_LOG, "Accepted"), **_errors(403, 404, 409)},
        }
    },
    "/api/job-logs/cleanup": {
        "delete": {
            "summary": "Delete finished job logs older than N days (admin)",
            "parameters": [_query("days", "integer", required=True, minimum=0)],
            "responses": {
                "200": _json({"type": "object", "properties": {"deleted": {"type": "integer"}}}),
                **_errors(400, 403),
            },
        }
    },
    "/api/pauses": {
        "get": {
            "summary": "Paused queues and task types",
            "responses": {
                "200": _json({"type": "array", "items": {"type": "object"}}),
                **_errors(),
            },
        }
    },
    **{
        f"/api/{kind}/{{name}}/{action}": {
            "post": {
                "summary": f"{action.capitalize()} a {kind[:-1]}: its jobs wait, neither running "
                "nor failing, until resumed (operator)",
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": _json({"type": "array", "items": {"type": "object"}}),
                    **_errors(403, 404),
                },
            }
        }
        for kind in ("queues", "tasks")
        for action in ("pause", "resume")
    },
    "/api/batches/{batch_id}": {
        "get": {
            "summary": "A batch: total, done, failed, progress",
            "parameters": [BATCH_ID],
            "responses": {"200": _json({"type": "object"}), **_errors(404)},
        }
    },
    "/api/batches/{batch_id}/cancel": {
        "post": {
            "summary": "Cancel the batch's pending and running jobs (operator)",
            "parameters": [BATCH_ID],
            "responses": {"200": _json({"type": "object"}), **_errors(403, 404)},
        }
    },
    "/api/batches/{batch_id}/retry-failed": {
        "post": {
            "summary": "Retry the batch's failed jobs together (operator)",
            "parameters": [BATCH_ID],
            "responses": {"202": _json({"type": "object"}, "Accepted"), **_errors(403, 404)},
        }
    },
    "/api/schedules": {
        "get": {
            "summary": "Schedules",
            "responses": {"200": _json({"type": "array", "items": SCHEDULE}), **_errors()},
        },
        "post": {
            "summary": "Create a schedule (operator): name, command, parameters, cron or preset, "
            "timezone, active, without_overlapping",
            "requestBody": {"content": {"application/json": {"schema": SCHEDULE_INPUT}}},
            "responses": {"201": _json(SCHEDULE, "Created"), **_errors(400, 403, 409, 422)},
        },
    },
    "/api/schedules/{schedule_id}": {
        "get": {
            "summary": "One schedule",
            "parameters": [SCHEDULE_ID],
            "responses": {"200": _json(SCHEDULE), **_errors(404)},
        },
        "patch": {
            "summary": "Change a schedule (operator)",
            "parameters": [SCHEDULE_ID],
            "requestBody": {"content": {"application/json": {"schema": SCHEDULE_INPUT}}},
            "responses": {"200": _json(SCHEDULE), **_errors(400, 403, 404, 409, 422)},
        },
        "delete": {
            "summary": "Delete a schedule and its history (admin)",
            "parameters": [SCHEDULE_ID],
            "responses": {"204": {"description": "Deleted"}, **_errors(403, 404)},
        },
    },
    "/api/schedules/{schedule_id}/run": {
        "post": {
            "summary": "Run it now, whatever its timing (operator)",
            "parameters": [SCHEDULE_ID],
            "responses": {"202": _json(SCHEDULE_RUN, "Accepted"), **_errors(403, 404)},
        }
    },
    "/api/schedules/{schedule_id}/runs": {
        "get": {
            "summary": "Its runs, newest first",
            "parameters": [
                SCHEDULE_ID,
                _query("limit", "integer", minimum=1, maximum=500, default=50),
                _query("cursor", "integer", minimum=1),
            ],
            "responses": {"200": _json({"type": "array", "items": SCHEDULE_RUN}), **_errors(404)},
        }
    },
    "/api/imports": {
        "post": {
            "summary": "Upload a CSV or XLSX file to import (operator); 413 past IMPORT_MAX_BYTES",
            "requestBody": {
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["file", "importer"],
                            "properties": {
                                "file": {"type": "string", "format": "binary"},
                                "importer": {"type": "string", "enum": ["series", "integrations"]},
                                "dry_run": {"type": "boolean"},
                            },
                        }
                    }
                }
            },
            "responses": {"202": _json(IMPORT, "Accepted"), **_errors(403, 413, 422)},
        }
    },
    "/api/imports/{import_id}": {
        "get": {
            "summary": "An import's status and counts (owner or admin)",
            "parameters": [IMPORT_ID],
            "responses": {"200": _json(IMPORT), **_errors(404)},
        }
    },
    "/api/imports/{import_id}/failed-rows": {
        "get": {
            "summary": "Refused rows {row_number, data, errors}; format=csv: original columns "
            "plus an error column",
            "parameters": [IMPORT_ID, _query("format", enum=["json", "csv"])],
            "responses": {
                "200": _json({"type": "array", "items": {"type": "object"}}),
                **_errors(400, 404),
            },
        }
    },
    "/api/exports": {
        "post": {
            "summary": "Start an export (operator)",
            "requestBody": {
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["dataset", "format"],
                            "properties": {
                                "dataset": {
                                    "type": "string",
                                    "enum": ["job_logs", "series", "episodes", "schedule_runs"],
                                },
                                "format": {"type": "string", "enum": ["csv", "jsonl", "xlsx"]},
                                "filters": {
                                    "type": "object",
                                    "properties": {
                                        "status": {"type": "string"},
                                        "since": {"type": "string", "format": "date"},
                                        "until": {"type": "string", "format": "date"},
                                        "search": {"type": "string"},
                                    },
                                },
                            },
                        }
                    }
                }
            },
            "responses": {"202": _json(EXPORT, "Accepted"), **_errors(400, 403, 422)},
        }
    },
    "/api/exports/status": {
        "get": {
            "summary": "The caller's exports (an admin's: all)",
            "responses": {"200": _json({"type": "array", "items": EXPORT}), **_errors()},
        }
    },
    "/api/exports/{export_id}/status": {
        "get": {
            "summary": "One export (owner or admin; others 404)",
            "parameters": [EXPORT_ID],
            "responses": {"200": _json(EXPORT), **_errors(404)},
        }
    },
    "/api/exports/{export_id}/download": {
        "get": {
            "summary": "The export's file (owner or admin); 409 until it is ready",
            "parameters": [EXPORT_ID],
            "responses": {"200": {"description": "The file"}, **_errors(404, 409)},
        }
    },
    "/api/alerts": {
        "get": {
            "summary": "Open alerts",
            "responses": {
                "200": _json({"type": "array", "items": {"type": "object"}}),
                **_errors(),
            },
        }
    },
    "/api/consumers": {
        "get": {
            "summary": "Consumers that are alive (heartbeat within 30 s)",
            "responses": {
                "200": _json({"type": "array", "items": {"type": "object"}}),
                **_errors(),
            },
        }
    },
    "/api/queues": {
        "get": {
            "summary": "Waiting jobs per queue, running and failed counts",
            "responses": {"200": _json({"$ref": "#/components/schemas/Queues"}), **_errors()},
        }
    },
}


def description() -> dict[str, Any]:
    """The whole OpenAPI document."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Jobdeck API",
            "version": "1",
            "description": "Job logs, queues, schedules, imports and exports. Errors are "
            '{"error": {"code", "message"}}. Authenticate with the browser session or '
            "Authorization: Bearer <token> (flask users token EMAIL).",
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": PATHS,
    }


@bp.get("/openapi.json")
def openapi():
    return jsonify(description())
