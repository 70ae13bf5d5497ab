"""Failure groups over the API: the failed list folded by task, error class and message."""

from __future__ import annotations

from typing import Annotated

from flask_login import current_user
from pydantic import BaseModel, BeforeValidator, Field

from webapp.api.fields import Count, QueryText, QueryTime, Timestamp, query_limit
from webapp.api.routing import api_route
from webapp.api.schemas import Query, Queue
from webapp.models.users import Role
from webapp.services import failure_groups
from webapp.services.jobs import FailedFilters
from webapp.services.ownership import viewer_of


class FailedScopeQuery(Query):
    """Which failed jobs (not yet retried) a failure group is made of."""

    task: QueryText = None
    queue: Annotated[Queue | None, BeforeValidator(lambda v: v or None)] = None
    error: QueryText = Field(None, description="words the error contains")
    since: QueryTime = Field(None, description="failed at or after (ISO 8601)")
    until: QueryTime = Field(None, description="failed before (ISO 8601)")


class FailureGroupQuery(FailedScopeQuery):
    limit: query_limit(500) = 100


class FailureGroup(BaseModel):
    """Failed jobs not yet retried that share a task, an error class and a message with its
    numbers and ids masked."""

    key: str = Field(examples=["3f2a9c0d1e4b5a67"])
    task: str
    error_class: str = Field(examples=["TimeoutError"])
    message: str = Field(examples=["timed out after <n> s on series <n>"])
    count: Count
    first_seen: Timestamp | None
    last_seen: Timestamp | None
    example_id: int | None = Field(description="the group's newest job")
    example_error: str | None


class FailureGroupPage(BaseModel):
    items: list[FailureGroup] = Field(description="the largest groups first")
    more: bool = Field(description="there are more groups than the limit")


class GroupRetry(BaseModel):
    key: str
    matched: Count = Field(description="the group's failed jobs when the retry ran")
    retried: Count
    job_ids: list[int] = Field(description="the new jobs")
    problems: list[str] = Field(description="why a job of the group was not retried")


class GroupDelete(BaseModel):
    key: str
    matched: Count = Field(description="the group's failed jobs when the delete ran")
    deleted: Count


GROUP_KEY = {"type": "string", "pattern": "^[0-9a-f]{16}$"}


def _filters(query: FailedScopeQuery) -> FailedFilters:
    return FailedFilters(
        task=query.task,
        queue=query.queue,
        error=query.error,
        since=query.since,
        until=query.until,
        viewer=viewer_of(current_user),
    )


@api_route("/failure-groups", ["GET"], query=FailureGroupQuery, responses={200: FailureGroupPage})
def list_failure_groups(query: FailureGroupQuery):
    """Failed jobs not yet retried, grouped by task, error class and masked message"""
    found = failure_groups.failure_groups(_filters(query), limit=query.limit + 1)
    return {"items": [g.to_dict() for g in found[: query.limit]], "more": len(found) > query.limit}


@api_route(
    "/failure-groups/<key>/retry",
    ["POST"],
    role=Role.OPERATOR,
    query=FailedScopeQuery,
    responses={202: GroupRetry},
    path_schemas={"key": GROUP_KEY},
)
def retry_failure_group(key: str, query: FailedScopeQuery):
    """Retry every job of a failure group as it is now (operator)

    The filters are those the group was listed with; the answer says how many jobs the group
    held when the retry ran, which may differ from the count listed before."""
    done = failure_groups.retry_group(key, _filters(query), current_user.id)
    return {
        "key": key,
        "matched": done.matched,
        "retried": done.done,
        "job_ids": done.new_ids,
        "problems": done.problems,
    }, 202


@api_route(
    "/failure-groups/<key>",
    ["DELETE"],
    role=Role.ADMIN,
    query=FailedScopeQuery,
    responses={200: GroupDelete},
    path_schemas={"key": GROUP_KEY},
)
def delete_failure_group(key: str, query: FailedScopeQuery):
    """Delete the job records of a failure group as it is now (admin)"""
    done = failure_groups.delete_group(key, _filters(query))
    return {"key": key, "matched": done.matched, "deleted": done.done}
