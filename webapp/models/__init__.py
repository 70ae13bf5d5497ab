"""The database models, one module per area."""

from webapp.models.audit import AuditedRecord, AuditEntry
from webapp.models.integrations import Integration, RateLimitBucket
from webapp.models.jobs import Alert, Consumer, JobBatch, JobLog, JobStat, JobStatus, Lock, Pause
from webapp.models.schedules import Schedule, ScheduleRun
from webapp.models.search import include_object
from webapp.models.series import Episode, Series, SyncStatus
from webapp.models.transfers import Export, FailedImportRow, Import
from webapp.models.users import ApiToken, Role, User

__all__ = [
    "Alert",
    "AuditEntry",
    "AuditedRecord",
    "ApiToken",
    "Consumer",
    "JobBatch",
    "Lock",
    "Pause",
    "Episode",
    "Export",
    "FailedImportRow",
    "Import",
    "Integration",
    "JobLog",
    "JobStat",
    "JobStatus",
    "RateLimitBucket",
    "Role",
    "Schedule",
    "ScheduleRun",
    "Series",
    "SyncStatus",
    "User",
    "include_object",
]
