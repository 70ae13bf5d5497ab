"""What daylight saving does to a schedule's runs, in words for its preview.

A schedule runs on its zone's wall clock (``timing.iter_runs``). When the clocks go forward, a
wall time in the skipped stretch does not exist and its run moves to the first moment after it;
when they go back, a wall time happens twice and the scheduler runs the first occurrence (or,
for expressions that repeat within the hour, both). This module compares the wall times the
expression asks for with the runs the scheduler will make, and says what moved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import CroniterError, croniter

from webapp.services import timing


@dataclass
class PreviewRun:
    """One coming run (aware UTC) and what daylight saving does to it, in words."""

    at: datetime
    notes: list[str] = field(default_factory=list)


def _kind(wall: datetime, tz: ZoneInfo) -> str:
    """ "normal", "missing" (skipped when the clocks go forward) or "twice" (repeated when
    they go back)."""
    first, second = wall.replace(tzinfo=tz, fold=0), wall.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return "normal"
    back = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    return "twice" if back == wall else "missing"


def _clock(wall: datetime) -> str:
    return wall.strftime("%H:%M:%S" if wall.second else "%H:%M")


def _day(wall: datetime) -> str:
    return f"{wall:%a} {wall.day} {wall:%b %Y}"


def _listed(times: list[str]) -> str:
    """ "02:00", "02:00 and 02:20", "02:00, 02:20, 02:40 and …"."""
    shown = times[:3] + (["…"] if len(times) > 3 else [])
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def _outcome(
    wall: datetime, kind: str, tz: ZoneInfo, runs: list[datetime], wanted: set[datetime]
) -> tuple[str, str, datetime | None]:
    """What the scheduler does with a missing or repeated wall time: an outcome ("moved",
    "merged", "both", "first", "second", "skipped"), its detail, and the run it concerns."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if kind == "missing":
        # Forward: fold=1 reads it with the new offset (earlier in UTC), fold=0 with the old.
        early, late = min(first, second), max(first, second)
        moved = next((r for r in runs if early < r <= late), None)
        if moved is None:
            return "skipped", "", next((r for r in runs if r > late), None)
        local = moved.astimezone(tz)
        at = f"{_clock(local)} {local.tzname()}"
        if local.replace(tzinfo=None) in wanted:
            return "merged", at, moved
        return "moved", at, moved
    taken = [moment for moment in (first, second) if moment in runs]
    if len(taken) == 2:
        return "both", " and ".join(m.astimezone(tz).tzname() or "" for m in taken), taken[0]
    if taken:
        which = "first" if taken[0] == first else "second"
        return which, taken[0].astimezone(tz).tzname() or "", taken[0]
    return "skipped", "", next((r for r in runs if r > second), None)


def _sentence(kind: str, outcome: str, detail: str, walls: list[datetime]) -> str:
    one = len(walls) == 1
    times = _listed([_clock(w) for w in walls])
    if kind == "missing":
        what = f"{times} {'does' if one else 'do'} not exist on {_day(walls[0])}"
        clocks = "the clocks go forward"
    else:
        what = f"{times} {'happens' if one else 'happen'} twice on {_day(walls[0])}"
        clocks = "the clocks go back"
    does = {
        "moved": f"runs at {detail}" if one else f"they run once, at {detail}",
        "merged": f"runs once at {detail.split()[0]}, with the {detail} run"
        if one
        else f"they run once, with the {detail} run",
        "both": f"runs at both ({detail})" if one else f"each runs at both ({detail})",
        "first": f"runs once, at the first ({detail})"
        if one
        else f"each runs once, at the first ({detail})",
        "second": f"runs once, at the second ({detail})"
        if one
        else f"each runs once, at the second ({detail})",
        "skipped": "is skipped" if one else "are skipped",
    }[outcome]
    return f"{what} ({clocks}); {does}."


# Runs looked at beyond the last one shown, to know whether a repeated hour runs twice.
LOOK_BEYOND = timedelta(hours=3)


def daylight_notes(
    expression: str, timezone: str, after: datetime, runs: list[datetime]
) -> dict[datetime, list[str]]:
    """Notes for ``runs`` (the next runs after ``after``): each wall time the expression asks
    for that the clocks skip or repeat, said once per day, on the run it concerns."""
    if not runs:
        return {}
    tz = timing.zone(timezone)
    known = list(runs)
    for run in timing.iter_runs(expression, timezone, runs[-1]):
        if run > runs[-1] + LOOK_BEYOND or len(known) > len(runs) + 1000:
            break
        known.append(run)
    start = after.astimezone(tz).replace(tzinfo=None)
    # The latest wall time shown (after the clocks go back, not the last run's).
    end = max(run.astimezone(tz).replace(tzinfo=None) for run in runs)
    wanted: list[datetime] = []
    iterator = croniter(timing.tidy_cron(expression), start)
    # The wall times asked for up to the last run shown; bounded for sub-minute expressions.
    for _ in range(len(runs) * 4 + 500):
        try:
            wall = iterator.get_next(datetime)
        except (CroniterError, OverflowError, ValueError):
            break
        if wall > end:
            break
        wanted.append(wall)
    wanted_set = set(wanted)
    groups: dict[tuple, list[datetime]] = {}
    concerns: dict[tuple, datetime] = {}
    for wall in wanted:
        kind = _kind(wall, tz)
        if kind == "normal":
            continue
        outcome, detail, run = _outcome(wall, kind, tz, known, wanted_set)
        if run is not None:
            key = (wall.date(), kind, outcome, detail)
            groups.setdefault(key, []).append(wall)
            concerns.setdefault(key, run)
    notes: dict[datetime, list[str]] = {}
    for key, walls in groups.items():
        _, kind, outcome, detail = key
        notes.setdefault(concerns[key], []).append(_sentence(kind, outcome, detail, walls))
    return notes


def preview_runs(
    expression: str, timezone: str, after: datetime, count: int = 5
) -> list[PreviewRun]:
    """The next ``count`` runs after ``after`` with what daylight saving does to each."""
    runs = timing.next_runs(expression, timezone, after, count)
    notes = daylight_notes(expression, timezone, after, runs)
    return [PreviewRun(run, notes.get(run, [])) for run in runs]


# The dates a preview may start at: the first moment of the day must be a time in every zone.
EARLIEST_START = date(1900, 1, 1)
LATEST_START = date(9998, 12, 31)


def start_of(day_text: str, timezone: str) -> datetime:
    """The moment just before midnight starting ``day_text`` (YYYY-MM-DD) in ``timezone``, so
    that a run at midnight on that day is the first shown; Invalid for anything else."""
    text = (day_text or "").strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise timing.TimingError(
            f"{text[:40]!r} is not a date like 2027-03-28", "preview_from"
        ) from None
    if not EARLIEST_START <= day <= LATEST_START:
        raise timing.TimingError(
            f"a preview starts at a date from {EARLIEST_START} to {LATEST_START}, not {day}",
            "preview_from",
        )
    midnight = datetime(day.year, day.month, day.day, tzinfo=timing.zone(timezone))
    return midnight.astimezone(UTC) - timedelta(seconds=1)
