"""Cron expressions and presets: validation, plain-words descriptions and next run times,
computed in the schedule's own time zone so that daylight-saving changes come out right."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import islice
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cron_descriptor import Options, get_description
from croniter import croniter

from webapp.exceptions import Invalid

WEEKDAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 0}
PRESETS = {
    "every_minute": "Every minute",
    "every_30_seconds": "Every 30 seconds",
    "hourly": "Hourly, on the hour",
    "daily": "Daily at midnight",
    "daily_at": "Daily at a time",
    "twice_daily": "Twice daily, at two hours",
    "weekly_on": "Weekly on a day, at a time",
    "monthly_on": "Monthly on a day, at a time",
}


class TimingError(Invalid):
    """A cron expression, preset or time zone that cannot be used, with the reason."""


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimingError(
            f"unknown time zone {name!r}; use an IANA name like Europe/Berlin"
        ) from None


def validate_cron(expression: str) -> str:
    """The expression, tidied; TimingError unless it has 5 fields (or 6, seconds last)."""
    cleaned = " ".join(expression.split())
    fields = cleaned.split(" ")
    if len(fields) not in (5, 6):
        raise TimingError(
            f"a cron expression has 5 fields (minute hour day month weekday), not {len(fields)}"
        )
    if not croniter.is_valid(cleaned):
        raise TimingError(f"{cleaned!r} is not a valid cron expression")
    return cleaned


def _hhmm(value: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", (value or "").strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise TimingError(f"{value!r} is not a time of day like 02:30")
    return int(match[1]), int(match[2])


def preset_cron(preset: str, at: str = "", day: str = "", hours: str = "") -> str:
    """The cron expression a preset stands for; ``at`` is HH:MM, ``day`` a weekday or 1-31,
    ``hours`` two hours for twice daily ("1,13")."""
    if preset == "every_minute":
        return "* * * * *"
    if preset == "every_30_seconds":
        return "* * * * * */30"
    if preset == "hourly":
        return "0 * * * *"
    if preset == "daily":
        return "0 0 * * *"
    if preset == "daily_at":
        hour, minute = _hhmm(at)
        return f"{minute} {hour} * * *"
    if preset == "twice_daily":
        parts = [p.strip() for p in (hours or "").split(",") if p.strip()]
        if len(parts) != 2 or not all(p.isdigit() and int(p) < 24 for p in parts):
            raise TimingError("twice daily needs two hours, like 1,13")
        return f"0 {int(parts[0])},{int(parts[1])} * * *"
    if preset == "weekly_on":
        hour, minute = _hhmm(at or "00:00")
        weekday = WEEKDAYS.get((day or "").strip().lower()[:3])
        if weekday is None:
            raise TimingError("weekly needs a weekday, like monday")
        return f"{minute} {hour} * * {weekday}"
    if preset == "monthly_on":
        hour, minute = _hhmm(at or "00:00")
        if not (day or "").strip().isdigit() or not 1 <= int(day) <= 31:
            raise TimingError("monthly needs a day of the month from 1 to 31")
        return f"{minute} {hour} {int(day)} * *"
    raise TimingError(f"unknown preset {preset!r}; use one of {', '.join(PRESETS)}")


def describe(expression: str) -> str:
    """Plain words for a cron expression ("At 03:00 AM, only on Monday")."""
    fields = validate_cron(expression).split(" ")
    if len(fields) == 6:  # cron-descriptor wants seconds first
        fields = [fields[5], *fields[:5]]
    options = Options()
    options.use_24hour_time_format = True
    options.verbose = False
    return get_description(" ".join(fields), options)


def iter_runs(expression: str, timezone: str, after: datetime) -> Iterator[datetime]:
    """Run times after ``after``, one by one, as aware UTC datetimes.

    Times are computed on the schedule's wall clock: when the clocks go back, an hour that
    happens twice runs once; when they go forward, a time that does not exist runs at the first
    moment after it.
    """
    tz = zone(timezone)
    iterator = croniter(validate_cron(expression), after.astimezone(tz))
    last_wall: datetime | None = None
    while True:
        moment = iterator.get_next(datetime)
        wall = moment.replace(tzinfo=None)
        if wall == last_wall:
            continue  # the repeated hour of a fall-back day
        last_wall = wall
        yield moment.astimezone(UTC)


def next_runs(expression: str, timezone: str, after: datetime, count: int = 5) -> list[datetime]:
    """The next ``count`` run times after ``after`` (see ``iter_runs``)."""
    return list(islice(iter_runs(expression, timezone, after), count))
