"""Job logs, the failed list, batches and the queues: pages and the `jobs` and `queue` commands."""

from webapp.areas import Area, NavEntry, RecordPage, page_of
from webapp.jobs import batches, changes, groups  # noqa: F401  (their routes join bp)
from webapp.jobs.cli import batches_cli, jobs_cli
from webapp.jobs.queue_cli import queue_cli
from webapp.jobs.routes import bp

area = Area(
    "jobs",
    blueprint=bp,
    cli=[queue_cli, jobs_cli, batches_cli],
    nav=[
        NavEntry("Jobs", "jobs.index", order=20, current=("jobs.index", "jobs.show")),
        NavEntry("Failed", "jobs.failed", order=30),
        NavEntry("Batches", "jobs.batch_list", order=40, current=("jobs.batch_list", "jobs.batch")),
    ],
    record_pages=[RecordPage("batch", page_of("jobs.batch", "batch_id"))],
    schedulable=["jobs prune", "queue retry"],
)
