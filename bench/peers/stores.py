"""The peers' own stores, emptied before each drain: databases named after BENCH_PG_DATABASE
with a suffix, next to BENCH_DATABASE_URL's, and the BENCH_REDIS_URL database."""

from __future__ import annotations

import os

import psycopg
import redis
from psycopg import sql

# Jobdeck's SQLAlchemy URL with the driver left out: what psycopg and the peers take.
SERVER_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
).replace("postgresql+psycopg://", "postgresql://")
DATABASE_PREFIX = os.environ.get("BENCH_PG_DATABASE", "jobdeck_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def database_url(suffix: str) -> str:
    """The URL of the peer database ``<BENCH_PG_DATABASE>_<suffix>``."""
    base, _, _ = SERVER_URL.rpartition("/")
    return f"{base}/{DATABASE_PREFIX}_{suffix}"


def fresh_database(suffix: str) -> str:
    """Drop and create the peer database ``<BENCH_PG_DATABASE>_<suffix>``; its URL."""
    name = sql.Identifier(f"{DATABASE_PREFIX}_{suffix}")
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
    return database_url(suffix)


class Count:
    """A count polled from a peer database over one connection (0 while its table is not
    there yet: some peers create theirs on first use)."""

    def __init__(self, url: str, query: str) -> None:
        self.conn = psycopg.connect(url, autocommit=True)
        self.query = query

    def __call__(self) -> int:
        try:
            return self.conn.execute(self.query).fetchone()[0]
        except psycopg.errors.UndefinedTable:
            return 0


def fresh_redis() -> redis.Redis:
    """The peers' Redis database, emptied."""
    conn = redis.Redis.from_url(REDIS_URL)
    conn.flushdb()
    return conn
