"""The SQL that differs between SQLite and PostgreSQL: word search and durations."""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, column, false, func, literal_column, text

from webapp.extensions import db
from webapp.models.jobs import JobLog
from webapp.models.search import PG_SEARCH_TEXT


def search_clause(words: str) -> ColumnElement[bool]:
    """Job logs whose arguments, payload or error contain ``words``: on SQLite the words as a
    phrase (the last one as a prefix) through FTS5; on PostgreSQL the text as a case-blind
    substring through the trigram index."""
    if db.engine.dialect.name == "sqlite":
        tokens = re.findall(r"\w+", words)
        if not tokens:
            return false()
        phrase = '"' + " ".join(tokens) + '" *'
        matches = text("SELECT rowid FROM job_logs_fts WHERE job_logs_fts MATCH :phrase")
        return JobLog.id.in_(matches.bindparams(phrase=phrase).columns(column("rowid")))
    escaped = words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return literal_column(PG_SEARCH_TEXT).ilike(f"%{escaped}%")


def duration_seconds():
    """A SQL expression for a finished job's duration in seconds, on SQLite and PostgreSQL."""
    if db.engine.dialect.name == "sqlite":
        return (func.julianday(JobLog.finished_at) - func.julianday(JobLog.started_at)) * 86400.0
    return func.extract("epoch", JobLog.finished_at - JobLog.started_at)
