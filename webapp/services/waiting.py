"""Why a pending job is not running, in words: waiting for its retry, paused, no consumer alive,
every worker busy, or behind other jobs in its queue.

The reasons are checked in that order, the first that holds is the answer. What every job shares
(pauses, consumers, running jobs) is read once per ``Situation``, and the jobs ahead of a page's
jobs are counted in one statement, so a page of jobs costs the same few statements as one job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, case, func, or_, select

from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.jobs import QUEUES, Consumer, JobLog, JobStatus, Pause
from webapp.models.users import User
from webapp.services import consumers
from webapp.services.ownership import Viewer, visible_jobs

# Counting the jobs ahead stops here: "more than 10,000" is as useful as the exact figure.
AHEAD_COUNTED = 10_000
CODES = ("scheduled", "retry", "paused", "no_consumer", "busy", "queued")


@dataclass(frozen=True)
class WaitingReason:
    """Why a job waits: a short ``code`` (one of ``CODES``) and a sentence for people, kept as
    its ``parts`` (text and times) so that a page shows the times in the viewer's zone."""

    code: str
    parts: tuple[str | datetime, ...]

    @property
    def message(self) -> str:
        """The sentence with its times in UTC (the API and the command line)."""
        return "".join(_when(p) if isinstance(p, datetime) else p for p in self.parts)

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass
class Situation:
    """What all pending jobs share at one moment, read once."""

    now: datetime = field(default_factory=utcnow)
    pauses: dict[tuple[str, str], Pause] = field(default_factory=dict)
    paused_by: dict[int, str] = field(default_factory=dict)
    workers: int = 0
    last_seen: datetime | None = None
    running: list[int] = field(default_factory=list)

    @classmethod
    def read(cls) -> Situation:
        """The pauses, live consumers and running jobs as they are now."""
        situation = cls()
        for pause in db.session.scalars(select(Pause)):
            situation.pauses[(pause.kind, pause.name)] = pause
        user_ids = {p.paused_by for p in situation.pauses.values() if p.paused_by is not None}
        if user_ids:
            rows = db.session.execute(select(User.id, User.email).where(User.id.in_(user_ids)))
            situation.paused_by = {user_id: email for user_id, email in rows}
        live = consumers.live_consumers()
        situation.workers = sum(c.workers for c in live)
        if not live:
            situation.last_seen = db.session.scalar(select(func.max(Consumer.heartbeat_at)))
        situation.running = list(
            db.session.scalars(
                select(JobLog.id)
                .where(JobLog.status == JobStatus.RUNNING.value)
                .order_by(JobLog.id)
                .limit(max(situation.workers, 1) + 1)
            )
        )
        return situation

    def paused_condition(self) -> ColumnElement[bool] | None:
        """The SQL condition for the jobs of a paused queue or task; None when none is."""
        queues = [name for kind, name in self.pauses if kind == "queue"]
        tasks = [name for kind, name in self.pauses if kind == "task"]
        if not queues and not tasks:
            return None
        return or_(JobLog.queue.in_(queues), JobLog.task.in_(tasks))

    def pause_of(self, job: JobLog) -> tuple[str, Pause] | None:
        for kind, name in (("queue", job.queue), ("task", job.task)):
            pause = self.pauses.get((kind, name))
            if pause is not None:
                return kind, pause
        return None


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _ahead_query(job: JobLog, situation: Situation):
    """The capped count of pending jobs a worker takes before ``job``, as a scalar subquery."""
    higher = QUEUES[: QUEUES.index(job.queue)] if job.queue in QUEUES else ()
    ready = or_(JobLog.next_attempt_at.is_(None), JobLog.next_attempt_at <= situation.now)
    where = [
        JobLog.status == JobStatus.PENDING.value,
        ready,
        or_(JobLog.queue.in_(higher), (JobLog.queue == job.queue) & (JobLog.id < job.id)),
    ]
    paused = situation.paused_condition()
    if paused is not None:  # a worker puts a paused job back at once: it holds no one up
        where.append(~paused)
    ahead = select(JobLog.id).where(*where).limit(AHEAD_COUNTED + 1).subquery()
    return select(func.count()).select_from(ahead).scalar_subquery()


def jobs_ahead(job: JobLog, situation: Situation | None = None) -> int:
    """Pending jobs a worker takes before this one: those of higher-priority queues and the
    older ones of its own queue, leaving out jobs waiting for a retry later on and paused ones."""
    return jobs_ahead_of([job], situation or Situation.read())[job.id]


# A page lists at most this many jobs; more are counted in several statements of this size.
AHEAD_PER_STATEMENT = 100


def jobs_ahead_of(jobs: list[JobLog], situation: Situation) -> dict[int, int]:
    """``jobs_ahead`` of every job in ``jobs``, in one statement per hundred jobs."""
    counts: dict[int, int] = {}
    for start in range(0, len(jobs), AHEAD_PER_STATEMENT):
        chunk = jobs[start : start + AHEAD_PER_STATEMENT]
        row = db.session.execute(select(*(_ahead_query(job, situation) for job in chunk))).one()
        counts.update((job.id, count or 0) for job, count in zip(chunk, row, strict=True))
    return counts


def _reason_before_the_queue(job: JobLog, situation: Situation) -> WaitingReason | None:
    """The first reason that holds other than the job's place in the queues, if any."""
    if job.next_attempt_at is not None and job.next_attempt_at > situation.now:
        if job.attempts == 0:  # dispatched with a delay
            return WaitingReason(
                "scheduled", ("Scheduled: it starts at ", job.next_attempt_at, ".")
            )
        return WaitingReason(
            "retry",
            (
                "Waiting for its retry at ",
                job.next_attempt_at,
                f" (attempt {job.attempts + 1} of {job.max_attempts}).",
            ),
        )
    paused = situation.pause_of(job)
    if paused is not None:
        kind, pause = paused
        what = f"the {job.queue} queue" if kind == "queue" else f"the task {job.task}"
        who = situation.paused_by.get(pause.paused_by) if pause.paused_by else None
        by = f" by {who}" if who else ""
        return WaitingReason("paused", (f"Paused: {what} was paused{by} at ", pause.paused_at, "."))
    if situation.workers == 0:
        seen = (
            ("last seen at ", situation.last_seen)
            if situation.last_seen
            else ("none has ever run",)
        )
        return WaitingReason(
            "no_consumer",
            ("No consumer is alive (", *seen, "): start one with `flask queue work`."),
        )
    if len(situation.running) >= situation.workers:
        shown = ", ".join(f"#{i}" for i in situation.running[: situation.workers][:5])
        more = "…" if situation.workers > 5 else ""
        return WaitingReason(
            "busy", (f"All {situation.workers} workers are busy (with jobs {shown}{more}).",)
        )
    return None


def _place_in_the_queues(ahead: int) -> WaitingReason:
    if ahead > AHEAD_COUNTED:
        return WaitingReason("queued", (f"More than {AHEAD_COUNTED:,} jobs are ahead of it.",))
    if ahead:
        noun = "job is" if ahead == 1 else "jobs are"
        return WaitingReason("queued", (f"{ahead:,} {noun} ahead of it in the queues.",))
    return WaitingReason("queued", ("Next in line: a worker takes it at its next poll.",))


def waiting_reason(job: JobLog, situation: Situation | None = None) -> WaitingReason | None:
    """Why ``job`` is not running, or None when it is not pending."""
    if job.status != JobStatus.PENDING.value:
        return None
    situation = situation or Situation.read()
    reason = _reason_before_the_queue(job, situation)
    return reason or _place_in_the_queues(jobs_ahead(job, situation))


def waiting_reasons(jobs: list[JobLog]) -> dict[int, WaitingReason]:
    """The reason of every pending job in ``jobs`` in a bounded number of statements, however
    many jobs: what they share read once, and the jobs ahead of each counted together."""
    pending = [job for job in jobs if job.status == JobStatus.PENDING.value]
    if not pending:
        return {}
    situation = Situation.read()
    reasons: dict[int, WaitingReason] = {}
    queued = []
    for job in pending:
        reason = _reason_before_the_queue(job, situation)
        if reason is None:
            queued.append(job)
        else:
            reasons[job.id] = reason
    for job_id, ahead in jobs_ahead_of(queued, situation).items():
        reasons[job_id] = _place_in_the_queues(ahead)
    return reasons


def waiting_counts(viewer: Viewer | None = None) -> dict[str, int]:
    """Pending jobs (of those ``viewer`` may see) counted by reason, for the dashboard: one
    grouped count over the pending jobs, never a row per job. Jobs neither retrying nor paused
    wait for the same thing, so they all count as no consumer, busy, or queued."""
    situation = Situation.read()
    if situation.workers == 0:
        rest = "no_consumer"
    elif len(situation.running) >= situation.workers:
        rest = "busy"
    else:
        rest = "queued"
    paused = situation.paused_condition()
    reason = case(
        ((JobLog.next_attempt_at > situation.now) & (JobLog.attempts == 0), "scheduled"),
        (JobLog.next_attempt_at > situation.now, "retry"),
        *([(paused, "paused")] if paused is not None else []),
        else_=rest,
    ).label("reason")
    rows = db.session.execute(
        select(reason, func.count())
        .where(JobLog.status == JobStatus.PENDING.value, visible_jobs(viewer))
        .group_by(reason)
    )
    counts = dict.fromkeys(CODES, 0)
    for code, count in rows:
        counts[code] += count
    return counts


def with_waiting_reasons(jobs: list[JobLog]) -> list[dict]:
    """The jobs as the API and ``--json`` show them: each one's JSON with its
    ``waiting_reason`` (None unless pending), what they share read once."""
    reasons = waiting_reasons(list(jobs))
    return [
        {**job.to_dict(), "waiting_reason": r.as_json() if (r := reasons.get(job.id)) else None}
        for job in jobs
    ]
