"""What a person reads for the record a job works for and the user it belongs to: the record's
name ("The Simpsons", not "series 6") and the user's e-mail, loaded for a whole page of jobs at
once (one query per record type on the page and one for the users, never one per row)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from webapp.extensions import db
from webapp.models.jobs import JobLog
from webapp.models.users import User

# Record type → a function from record ids to their names (registered by each area).
Namer = Callable[[Collection[int]], dict[int, str]]


def names_by(column: Any, template: str = "{}") -> Namer:
    """A Namer reading ``column`` (``Series.name``) of the rows with these ids; a record
    without a name (or gone) is left out, so it shows as its type and id."""
    model = column.class_

    def load(ids: Collection[int]) -> dict[int, str]:
        rows = db.session.execute(select(model.id, column).where(model.id.in_(list(ids))))
        return {record_id: template.format(value) for record_id, value in rows if value}

    return load


@dataclass
class JobLabels:
    """Names for the records and users of some jobs; ``record(job)`` and ``user(job)``."""

    records: dict[tuple[str, int], str] = field(default_factory=dict)
    users: dict[int, str] = field(default_factory=dict)

    def record(self, job: JobLog) -> str:
        if not job.source_type:
            return ""
        key = (job.source_type, job.source_id)
        return self.records.get(key) or f"{job.source_type} {job.source_id}"

    def user(self, job: JobLog) -> str:
        if job.user_id is None:
            return ""
        return self.users.get(job.user_id) or f"user {job.user_id}"


def labels_for(jobs: Iterable[JobLog], namers: Mapping[str, Namer]) -> JobLabels:
    """The names of these jobs' records and the e-mails of their users."""
    jobs = list(jobs)
    wanted: dict[str, set[int]] = {}
    for job in jobs:
        if job.source_type and job.source_id is not None:
            wanted.setdefault(job.source_type, set()).add(job.source_id)
    labels = JobLabels()
    for record_type, ids in wanted.items():
        namer = namers.get(record_type)
        if namer is not None:
            for record_id, name in namer(ids).items():
                labels.records[(record_type, record_id)] = name
    user_ids = {job.user_id for job in jobs if job.user_id is not None}
    if user_ids:
        labels.users = dict(
            db.session.execute(select(User.id, User.email).where(User.id.in_(user_ids))).all()
        )
    return labels
