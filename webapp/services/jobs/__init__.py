"""Reading and mending job logs, in five rooms: ``filters`` (what a job list shows),
``search`` (the SQL that differs by database), ``reading`` (pages of jobs, one job),
``actions`` (cancel, retry, delete, flush), ``pruning`` (retention) and ``stats`` (counts).
Callers use the package as one module: ``from webapp.services import jobs as job_service``."""

from webapp.services.jobs.actions import (
    RETRY_CHUNK,
    cancel_job,
    cancel_jobs,
    delete_failed_jobs,
    delete_finished_jobs,
    flush_failed,
    retry_job,
    retry_jobs,
)
from webapp.services.jobs.filters import (
    JOB_SORTS,
    FailedFilters,
    JobError,
    JobFilters,
    JobNotFound,
    JobQueryError,
    failed_jobs_query,
)
from webapp.services.jobs.pruning import prune_jobs, reclaim_space
from webapp.services.jobs.reading import (
    active_job_for,
    existing_job_ids,
    failed_job_ids,
    failed_page,
    find_job,
    get_job,
    jobs_for_record,
    list_jobs,
    matching_job_ids,
    retried_by,
)
from webapp.services.jobs.search import duration_seconds, search_clause
from webapp.services.jobs.stats import failed_count, job_stats, queue_counts

__all__ = [
    "RETRY_CHUNK",
    "active_job_for",
    "delete_failed_jobs",
    "JOB_SORTS",
    "FailedFilters",
    "JobError",
    "JobFilters",
    "JobNotFound",
    "JobQueryError",
    "cancel_job",
    "cancel_jobs",
    "delete_finished_jobs",
    "duration_seconds",
    "existing_job_ids",
    "failed_count",
    "failed_job_ids",
    "failed_jobs_query",
    "failed_page",
    "find_job",
    "flush_failed",
    "get_job",
    "job_stats",
    "jobs_for_record",
    "list_jobs",
    "matching_job_ids",
    "prune_jobs",
    "reclaim_space",
    "queue_counts",
    "retried_by",
    "retry_job",
    "retry_jobs",
    "search_clause",
]
