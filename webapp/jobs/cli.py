import click
from flask.cli import AppGroup

from webapp.cli.output import echo_json, echo_table, json_option
from webapp.services import jobs as job_service
from webapp.services.jobs import JobFilters

jobs_cli = AppGroup("jobs", help="Job logs: list, show, cancel, retry, prune.")


def echo_jobs(jobs, as_json: bool) -> None:
    if as_json:
        echo_json([job.to_dict() for job in jobs])
        return
    if not jobs:
        click.echo("No jobs.")
        return
    echo_table(
        ["ID", "TASK", "QUEUE", "STATUS", "PROGRESS", "ATTEMPTS", "CREATED", "ERROR"],
        [
            (
                j.id,
                j.task,
                j.queue,
                j.status,
                f"{j.progress}%",
                f"{j.attempts}/{j.max_attempts}",
                j.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                (j.error or "")[:60],
            )
            for j in jobs
        ],
    )


@jobs_cli.command("list")
@click.option("--status")
@click.option("--task")
@click.option("--queue")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@json_option
def list_(status, task, queue, limit, as_json) -> None:
    """Job logs, newest first."""
    jobs, _ = job_service.list_jobs(JobFilters(status=status, task=task, queue=queue), limit)
    echo_jobs(jobs, as_json)


@jobs_cli.command("show")
@click.argument("job_id", type=int)
@json_option
def show(job_id: int, as_json: bool) -> None:
    """One job log."""
    job = job_service.get_job(job_id)
    if as_json:
        echo_json(job.to_dict())
        return
    for key, value in job.to_dict().items():
        if key == "traceback" and value:
            click.echo("traceback:\n" + value.rstrip())
        else:
            click.echo(f"{key}: {value if value is not None else '—'}")


@jobs_cli.command("cancel")
@click.argument("job_id", type=int)
def cancel(job_id: int) -> None:
    """Cancel a pending job, or ask a running one to stop."""
    job = job_service.cancel_job(job_id)
    if job.status == "cancelled":
        click.echo(f"Job {job_id} cancelled.")
    else:
        click.echo(f"Job {job_id} is running; it stops at its next progress report.")


@jobs_cli.command("retry")
@click.argument("job_id", type=int)
def retry(job_id: int) -> None:
    """Retry a failed or cancelled job as a new job."""
    new_id = job_service.retry_job(job_id)
    click.echo(f"Job {job_id} retried as job {new_id}.")


@jobs_cli.command("prune")
@click.option("--days", type=click.IntRange(min=0), required=True)
def prune(days: int) -> None:
    """Delete finished job logs older than --days days."""
    deleted = job_service.prune_jobs(days)
    click.echo(f"Deleted {deleted} finished job logs older than {days} days.")
