"""Cron expressions and presets: validation, plain-words descriptions and next run times,
computed in the schedule's own time zone so that daylight-saving changes come out right."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from cron_descriptor import Options, get_description
from croniter import CroniterError, croniter

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


# What the schedules table holds (cron String(100), timezone String(64)).
MAX_CRON_LENGTH = 100
MAX_ZONE_LENGTH = 64
# A cron expression must run within this long of any moment, or it is refused ("0 0 31 2 *").
MAX_YEARS_TO_NEXT_RUN = 8


class TimingError(Invalid):
    """A cron expression, preset or time zone that cannot be used, with the reason; ``field``
    is "cron" or "timezone"."""

    def __init__(self, message: str, field: str = "cron") -> None:
        super().__init__(message, field=field)


# Names the zone database holds that are no place: "localtime" is whatever the server is set
# to, "Factory" and "posixrules" are artefacts of the database itself.
NOT_PLACES = frozenset({"localtime", "Factory", "posixrules"})


@cache
def zone_names() -> frozenset[str]:
    """The IANA zones a schedule or a user may choose."""
    return frozenset(available_timezones()) - NOT_PLACES


def zone(name: Any) -> ZoneInfo:
    """The IANA time zone called ``name``; TimingError for anything else ("America", "Etc")."""
    if not isinstance(name, str) or len(name) > MAX_ZONE_LENGTH or name not in zone_names():
        shown = repr(name if not isinstance(name, str) or len(name) <= 40 else name[:40] + "…")
        raise TimingError(
            f"unknown time zone {shown}; use an IANA name like Europe/Berlin", "timezone"
        )
    return ZoneInfo(name)


def validate_cron(expression: Any) -> str:
    """The expression, tidied; TimingError unless it has 5 fields (or 6, seconds last), fits the
    table, and has a next run within a few years (so "0 0 31 2 *", never due, is refused)."""
    cleaned = tidy_cron(expression)
    now = datetime.now(UTC)
    try:
        first = croniter(cleaned, now).get_next(datetime)
    except (CroniterError, ValueError, OverflowError):
        first = None
    if first is None or first - now > timedelta(days=366 * MAX_YEARS_TO_NEXT_RUN):
        raise TimingError(
            f"{cleaned!r} never comes round (no run in the next {MAX_YEARS_TO_NEXT_RUN} years); "
            "check the day and month"
        )
    return cleaned


def tidy_cron(expression: Any) -> str:
    """The expression with single spaces; TimingError unless it is a cron expression of 5 fields
    (or 6, seconds last) that fits the table. Whether it ever runs is ``validate_cron``'s check."""
    if not isinstance(expression, str):
        raise TimingError("a cron expression is text, like 0 3 * * *")
    if len(expression) > MAX_CRON_LENGTH * 4:  # before tidying: do not split a huge text
        raise TimingError(f"a cron expression is at most {MAX_CRON_LENGTH} characters")
    cleaned = " ".join(expression.split())
    if len(cleaned) > MAX_CRON_LENGTH:
        raise TimingError(f"a cron expression is at most {MAX_CRON_LENGTH} characters")
    fields = cleaned.split(" ")
    if len(fields) not in (5, 6):
        raise TimingError(
            f"a cron expression has 5 fields (minute hour day month weekday), not {len(fields)}"
        )
    if not croniter.is_valid(cleaned):
        raise TimingError(f"{cleaned!r} is not a valid cron expression")
    return cleaned


def _field_text(value: Any, what: str) -> str:
    """A preset field as typed: text (or nothing), never a number or a list."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TimingError(f"{what} is text, like the examples, not {type(value).__name__}")
    return value.strip()


def _hhmm(value: Any) -> tuple[int, int]:
    text = _field_text(value, "the time of day")
    match = re.fullmatch(r"([0-9]{1,2}):([0-9]{2})", text)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise TimingError(f"{text[:40]!r} is not a time of day like 02:30")
    return int(match[1]), int(match[2])


def preset_cron(preset: Any, at: Any = "", day: Any = "", hours: Any = "") -> str:
    """The cron expression a preset stands for; ``at`` is HH:MM, ``day`` a weekday or 1-31,
    ``hours`` two hours for twice daily ("1,13"). Each is text; anything else is refused."""
    preset = _field_text(preset, "the preset")
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
        parts = [p.strip() for p in _field_text(hours, "the hours").split(",") if p.strip()]
        if len(parts) != 2 or not all(re.fullmatch("[0-9]{1,2}", p) and int(p) < 24 for p in parts):
            raise TimingError("twice daily needs two hours, like 1,13")
        return f"0 {int(parts[0])},{int(parts[1])} * * *"
    if preset == "weekly_on":
        hour, minute = _hhmm(at or "00:00")
        weekday = WEEKDAYS.get(_field_text(day, "the day").lower()[:3])
        if weekday is None:
            raise TimingError("weekly needs a weekday, like monday")
        return f"{minute} {hour} * * {weekday}"
    if preset == "monthly_on":
        hour, minute = _hhmm(at or "00:00")
        day = _field_text(day, "the day")
        if not re.fullmatch("[0-9]{1,2}", day) or not 1 <= int(day) <= 31:
            raise TimingError("monthly needs a day of the month from 1 to 31")
        return f"{minute} {hour} {int(day)} * *"
    raise TimingError(f"unknown preset {preset[:40]!r}; use one of {', '.join(PRESETS)}")


def describe(expression: str) -> str:
    """Plain words for a cron expression ("At 03:00 AM, only on Monday")."""
    fields = tidy_cron(expression).split(" ")
    if len(fields) == 6:  # cron-descriptor wants seconds first
        fields = [fields[5], *fields[:5]]
    options = Options()
    options.use_24hour_time_format = True
    options.verbose = False
    try:
        return get_description(" ".join(fields), options)
    except Exception:  # noqa: BLE001 - croniter accepts it; words are a nicety, not a rule
        return " ".join(fields)


def iter_runs(expression: str, timezone: str, after: datetime) -> Iterator[datetime]:
    """Run times after ``after``, one by one, as aware UTC datetimes; it ends when the
    expression has no further run (a February 30th saved before that was refused).

    Times are computed on the schedule's wall clock: when the clocks go back, an hour that
    happens twice runs once; when they go forward, a time that does not exist runs at the first
    moment after it.
    """
    tz = zone(timezone)
    iterator = croniter(tidy_cron(expression), after.astimezone(tz))
    last_wall: datetime | None = None
    while True:
        try:
            moment = iterator.get_next(datetime)
        except (CroniterError, OverflowError, ValueError):
            return  # no further run this calendar can hold (croniter: "year 10000 is out of range")
        wall = moment.replace(tzinfo=None)
        if wall == last_wall:
            continue  # the repeated hour of a fall-back day
        last_wall = wall
        yield moment.astimezone(UTC)


def next_runs(expression: str, timezone: str, after: datetime, count: int = 5) -> list[datetime]:
    """The next ``count`` run times after ``after`` (see ``iter_runs``)."""
    return list(islice(iter_runs(expression, timezone, after), count))
