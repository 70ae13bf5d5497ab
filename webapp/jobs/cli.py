import json
from datetime import UTC, datetime

import click
from flask.cli import AppGroup

from webapp.areas import record_namers
from webapp.boundary import MAX_DAYS
from webapp.cli.output import echo_json, echo_table, json_option
from webapp.cli.params import MOMENT, TEXT
from webapp.services import batches, job_changes
from webapp.services import jobs as job_service
from webapp.services.job_changes import parse_arguments
from webapp.services.job_labels import labels_for
from webapp.services.jobs import JOB_SORTS, JobFilters
from webapp.services.waiting import with_waiting_reasons

jobs_cli = AppGroup("jobs", help="Job logs: list, show, cancel, retry, prune.")
batches_cli = AppGroup("batches", help="Batches of jobs dispatched together.")


def echo_jobs(jobs, as_json: bool) -> None:
    if as_json:
        echo_json(with_waiting_reasons(jobs))
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
@click.option("--status", type=TEXT)
@click.option("--task", type=TEXT)
@click.option("--queue", type=TEXT)
@click.option("--q", "words", type=TEXT, help="Words in the arguments, payload or error.")
@click.option("--since", type=MOMENT, help="Created at or after this ISO 8601 time.")
@click.option("--until", type=MOMENT, help="Created before this ISO 8601 time.")
@click.option("--tag", type=TEXT, help="Only jobs with this tag.")
@click.option(
    "--system",
    is_flag=True,
    help="Also the app's own timer jobs (tagged system), left out unless a task or tag is given.",
)
@click.option(
    "--sort",
    type=click.Choice([s for name in JOB_SORTS for s in (f"-{name}", name)]),
    default="-created",
    show_default=True,
    help="created, duration or status; a leading - for descending.",
)
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@json_option
def list_(status, task, queue, words, since, until, tag, system, sort, limit, as_json) -> None:
    """Job logs, newest first."""
    filters = JobFilters(
        status=status,
        task=task,
        queue=queue,
        q=words,
        since=since,
        until=until,
        tag=tag,
        system=system,
        sort=sort,
    )
    jobs, _ = job_service.list_jobs(filters, limit)
    echo_jobs(jobs, as_json)


@jobs_cli.command("show")
@click.argument("job_id", type=int)
@json_option
def show(job_id: int, as_json: bool) -> None:
    """One job log."""
    job = job_service.get_job(job_id)
    if as_json:
        echo_json(with_waiting_reasons([job])[0])
        return
    click.echo(describe_job(job))


def _at(moment) -> str:
    """A time as the command line shows every time: UTC, to the second, saying so."""
    if isinstance(moment, str):  # a job history's ISO 8601 text
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            return moment
    if moment is None:
        return "—"
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def describe_job(job) -> str:
    """A job log as a readable block: what ran, when, for what, and how it ended."""
    lines = [
        f"Job #{job.id}  {job.task}  [{job.status}]  {job.progress}%",
        f"  queue      {job.queue}",
        f"  attempts   {job.attempts} of {job.max_attempts}",
        f"  created    {_at(job.created_at)}",
        f"  started    {_at(job.started_at)}",
        f"  finished   {_at(job.finished_at)}",
    ]
    if job.duration_s is not None:
        lines.append(f"  duration   {job.duration_s:g} s")
    if job.next_attempt_at and job.status == "pending":
        label = "starts" if job.attempts == 0 else "next try"
        lines.append(f"  {label:<10} {_at(job.next_attempt_at)}")
    labels = labels_for([job], record_namers())  # the record's name and the user's e-mail
    if job.source_type:
        named = labels.record(job)
        plain = f"{job.source_type} {job.source_id}"
        lines.append(
            f"  record     {named} ({plain})" if named != plain else f"  record     {plain}"
        )
    if job.user_id is not None:
        lines.append(f"  user       {labels.user(job)}")
    for label, value in (("batch", job.batch_id), ("retry of", job.retry_of)):
        if value is not None:
            lines.append(f"  {label:<10} #{value}")
    if job.tags:
        lines.append(f"  tags       {', '.join(job.tags)}")
    if job.worker:
        lines.append(f"  worker     {job.worker}")
    if job.message:
        lines.append(f"  message    {job.message}")
    if job.payload:
        lines.append("  payload")
        lines += [f"    {k}: {json.dumps(v, default=str)}" for k, v in sorted(job.payload.items())]
    if job.arguments:
        lines.append("  arguments")
        lines += [f"    {k}: {json.dumps(v, default=str)}" for k, v in job.arguments.items()]
    for entry in job.attempt_errors or []:
        lines.append(
            f"  attempt {entry.get('attempt')} failed at {_at(entry.get('at'))}: "
            f"{entry.get('error')}"
        )
    if job.error:
        lines.append(f"  error      {job.error}")
    if job.traceback:
        lines.append("  traceback")
        lines += [f"    {line}" for line in job.traceback.rstrip().splitlines()]
    return "\n".join(lines)


@batches_cli.command("list")
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@json_option
def list_batches(limit: int, as_json: bool) -> None:
    """Batches, newest first, with their members' counts."""
    found = batches.recent_batches(limit)
    if as_json:
        echo_json([b.to_dict() for b in found])
        return
    if not found:
        click.echo("No batches.")
        return
    echo_table(
        ["ID", "NAME", "TOTAL", "DONE", "FAILED", "PROGRESS", "CREATED"],
        [
            (
                b.batch.id,
                b.batch.name,
                sum(b.counts.values()),
                b.done,
                b.counts["failed"],
                f"{b.percent}%",
                _at(b.batch.created_at),
            )
            for b in found
        ],
    )


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
@click.option(
    "--kwargs",
    "changes",
    metavar="JSON",
    help="Arguments to change, as a JSON object by name ('{\"steps\": 3}'); the others stay.",
)
def retry(job_id: int, changes: str | None) -> None:
    """Retry a failed or cancelled job as a new job, with --kwargs changed."""
    if changes is None:
        new_id = job_service.retry_job(job_id)
    else:
        new_id = job_changes.retry_with_changes(job_id, parse_arguments(changes, "--kwargs"))
    click.echo(f"Job {job_id} retried as job {new_id}.")


@jobs_cli.command("prune")
@click.option("--days", type=click.IntRange(min=0, max=MAX_DAYS), required=True)
def prune(days: int) -> None:
    """Delete finished job logs older than --days days."""
    deleted = job_service.prune_jobs(days)
    click.echo(f"Deleted {deleted} finished job logs older than {days} days.")
