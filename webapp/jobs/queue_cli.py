import logging
from datetime import UTC

import click
from flask import current_app
from flask.cli import AppGroup

from jobkit import bind_app, huey, pauses, redaction
from jobkit.recorder import recorder
from jobkit.reserved import ConsumerWithReservedWorker
from tasks.upkeep import Upkeep
from webapp.cli.output import Progress, echo_json, echo_table, json_option
from webapp.extensions import db
from webapp.jobs.cli import echo_jobs
from webapp.models.jobs import QUEUES, JobLog
from webapp.services import failure_groups
from webapp.services import jobs as job_service

queue_cli = AppGroup("queue", help="Run consumers and look after the queues.")


def _traceback_in_the_job_log(record: logging.LogRecord) -> bool:
    """A failing task's traceback is kept on its job; the consumer's log says one line."""
    if record.getMessage().startswith("Unhandled exception in task") and record.exc_info:
        error = record.exc_info[1]
        record.msg = (
            f"{record.getMessage()} {type(error).__name__}: {error} (traceback in the job log)"
        )
        record.args = ()
        record.exc_info = None
    return True


@queue_cli.command("work")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="Worker threads for jobs (plus one kept for periodic tasks and the high queue).",
)
@click.option(
    "--max-delay",
    type=click.FloatRange(0.001, 60),
    default=0.05,
    show_default=True,
    help="Longest pause between polls of an idle SQLite queue (seconds).",
)
@click.option("--verbose", is_flag=True, help="Log every task (costs throughput).")
def work(workers: int, max_delay: float, verbose: bool) -> None:
    """Run a Huey consumer with this app's settings; Ctrl-C stops it after the running jobs."""

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("huey").addFilter(_traceback_in_the_job_log)
    redaction.redact_logs()
    app = current_app._get_current_object()
    if app.config["JOB_LOG_WRITER"] not in ("process", "thread"):
        raise click.UsageError(
            f"JOB_LOG_WRITER must be process or thread, not {app.config['JOB_LOG_WRITER']!r}"
        )
    bind_app(app)
    recorder.start_batching(
        db.engine,
        app.config["JOB_LOG_FLUSH_SECONDS"],
        writer_process=app.config["JOB_LOG_WRITER"] == "process",
    )
    consumer = ConsumerWithReservedWorker(
        huey,
        workers=workers,
        worker_type="thread",
        initial_delay=0.005,
        backoff=1.15,
        max_delay=max_delay,
        scheduler_interval=1,
        check_worker_health=True,
    )
    upkeep = Upkeep(app, workers)
    upkeep.start()
    queue_url = redaction.redact_text(app.config["QUEUE_URL"])
    click.echo(
        f"Consuming {queue_url} with {workers} worker(s) and one more kept for "
        "periodic tasks and the high queue; Ctrl-C stops."
    )
    try:
        consumer.run()
    finally:
        recorder.stop_batching()
        upkeep.stop()


@queue_cli.command("stats")
@json_option
def stats(as_json: bool) -> None:
    """Waiting jobs per queue, running jobs and failed jobs."""
    counts = job_service.queue_counts()
    if as_json:
        echo_json(counts)
        return
    echo_table(["QUEUE", "WAITING"], [(q, counts[q]) for q in QUEUES])
    click.echo(f"running: {counts['running']}  failed: {counts['failed']}")


def failed_filter_options(func):
    for option in reversed(
        [
            click.option("--task", help="Only jobs of this task."),
            click.option(
                "--queue", "queue_name", type=click.Choice(QUEUES), help="Only this queue."
            ),
            click.option("--error", help="Only jobs whose error contains this text."),
            click.option("--since", type=click.DateTime(), help="Failed at or after (UTC)."),
        ]
    ):
        func = option(func)
    return func


def _filters(task, queue_name, error, since) -> job_service.FailedFilters:
    return job_service.FailedFilters(
        task=task, queue=queue_name, error=error, since=since.replace(tzinfo=UTC) if since else None
    )


@queue_cli.command("failed")
@failed_filter_options
@json_option
def failed(task, queue_name, error, since, as_json: bool) -> None:
    """Failed jobs that have not been retried."""
    query = job_service.failed_jobs_query(_filters(task, queue_name, error, since))
    echo_jobs(list(db.session.scalars(query.order_by(JobLog.id.desc()))), as_json)


@queue_cli.command("retry")
@click.argument("targets", nargs=-1, required=True)
@failed_filter_options
def retry(targets: tuple[str, ...], task, queue_name, error, since) -> None:
    """Retry failed jobs: `all` (matching the filters), or one or more job ids."""
    sweep = {}
    if targets == ("all",):
        filters = _filters(task, queue_name, error, since)
        ids = job_service.failed_job_ids(filters)
        sweep = {"action": "failed.retry_all", "filters": filters.as_query()}
        click.echo(
            f"Retrying {len(ids)} failed job(s) found now; new failures wait for the next retry."
        )
    elif all(t.isdigit() for t in targets):
        ids = [int(t) for t in targets]
    else:
        raise click.UsageError("give `all` or job ids")
    if not ids:
        click.echo("No failed jobs to retry.")
        return
    # A bar only for work that takes more than one chunk: a few jobs are retried at once.
    quiet = len(ids) <= job_service.RETRY_CHUNK
    with Progress(f"Retrying {len(ids):,} job(s)", quiet=quiet) as report:
        new_ids, problems = job_service.retry_jobs(ids, report=report, **sweep)
    for problem in problems:
        click.echo(problem, err=True)
    click.echo(f"Retried {len(new_ids)} failed job(s).")
    if problems:
        raise SystemExit(1)


@queue_cli.command("flush")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def flush(yes: bool) -> None:
    """Delete the failed job records that `queue failed` lists (failed, not retried)."""
    count = job_service.failed_count()
    if not count:
        click.echo("No failed jobs to flush.")
        return
    if not yes:
        click.confirm(
            f"Delete the {count} failed job record(s) that `queue failed` lists?", abort=True
        )
    click.echo(f"Deleted {job_service.flush_failed()} failed job record(s).")


@queue_cli.command("failed-groups")
@failed_filter_options
@click.option("--limit", type=click.IntRange(1, 500), default=100, show_default=True)
@json_option
def failed_groups(task, queue_name, error, since, limit: int, as_json: bool) -> None:
    """Failed jobs not yet retried, grouped by task, error class and masked message."""
    found = failure_groups.failure_groups(_filters(task, queue_name, error, since), limit)
    if as_json:
        echo_json([group.to_dict() for group in found])
        return
    if not found:
        click.echo("No failed jobs.")
        return
    echo_table(
        ["KEY", "COUNT", "TASK", "ERROR", "MESSAGE", "FIRST SEEN", "LAST SEEN", "EXAMPLE"],
        [
            (
                g.key,
                g.count,
                g.task,
                g.error_class,
                g.message[:60],
                _at(g.first_seen),
                _at(g.last_seen),
                f"#{g.example_id}",
            )
            for g in found
        ],
    )


def _at(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "—"


def _named(group: failure_groups.FailureGroup) -> str:
    return f"{group.task} · {group.error_class}: {group.message}"


@queue_cli.command("retry-group")
@click.argument("key")
@failed_filter_options
def retry_group(key: str, task, queue_name, error, since) -> None:
    """Retry every failed job of the group KEY (see `queue failed-groups`) as it is now."""
    done = failure_groups.retry_group(key, _filters(task, queue_name, error, since))
    for problem in done.problems:
        click.echo(problem, err=True)
    click.echo(f"Retried {done.done} of the {done.matched} failed job(s) of {_named(done.group)}.")
    if done.problems:
        raise SystemExit(1)


@queue_cli.command("delete-group")
@click.argument("key")
@failed_filter_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_group(key: str, task, queue_name, error, since, yes: bool) -> None:
    """Delete the failed job records of the group KEY (see `queue failed-groups`)."""
    filters = _filters(task, queue_name, error, since)
    group = failure_groups.failure_group(key, filters)
    if not yes:
        click.confirm(
            f"Delete the {group.count} failed job record(s) of {_named(group)}?", abort=True
        )
    done = failure_groups.delete_group(key, filters)
    click.echo(f"Deleted {done.done} failed job record(s) of {_named(done.group)}.")


PAUSE_HELP = {
    "pause": "Pause a queue (or with --task a task type): its jobs wait until resumed.",
    "resume": "Resume a paused queue (or with --task a task type).",
}


def _pause_command(action: str):
    @queue_cli.command(action, help=PAUSE_HELP[action])
    @click.argument("name")
    @click.option("--task", "is_task", is_flag=True, help="NAME is a task type, not a queue.")
    def command(name: str, is_task: bool) -> None:
        kind = "task" if is_task else "queue"
        changed = getattr(pauses, action)(kind, name)
        done = "paused" if action == "pause" else "resumed"
        click.echo(
            f"The {kind} {name} is {done}." if changed else f"The {kind} {name} was already {done}."
        )

    return command


pause = _pause_command("pause")
resume = _pause_command("resume")
