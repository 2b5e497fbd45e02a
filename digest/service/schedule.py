"""The schedule, pure: crontab lines, @shortcuts and `every N` as APScheduler triggers, and
which fire time was missed while the service was down (the time zone is a setting: config)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from digest.errors import ConfigError

ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_EVERY = re.compile(r"every\s*(\d+)\s*([smh])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours"}
_SECONDS = {"s": 1, "m": 60, "h": 3600}
LONGEST_INTERVAL = 366 * 24 * 3600
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


# A reader's own schedule (the readers file, the preferences page) fires at most this often: a
# digest of a daily listing every second would be a stranger's way to load the service.
READER_FLOOR = timedelta(hours=1)


def reader_schedule(text: str, tz: tzinfo, setting: str = "schedule") -> BaseTrigger:
    """A reader's schedule (see parse_schedule), refused when it would fire more than once
    within READER_FLOOR."""
    trigger = parse_schedule(text, tz, setting)
    if _shortest_gap(trigger) < READER_FLOOR:
        raise ConfigError(
            f"{setting}={text!r} comes too often: a reader's digest comes at most once an hour"
            " (e.g. `0 7 * * *`, @daily, `every 6h`)"
        )
    return trigger


def _shortest_gap(trigger: BaseTrigger, fires: int = 200) -> timedelta:
    """The shortest time between two of the trigger's next `fires` fire times (from a fixed
    Monday, so the answer does not depend on today)."""
    if isinstance(trigger, IntervalTrigger):
        return trigger.interval  # type: ignore[no-any-return]
    start = datetime(2025, 1, 6, tzinfo=UTC)
    previous = trigger.get_next_fire_time(None, start)
    shortest = timedelta.max
    for _ in range(fires):
        if previous is None:
            break
        after = previous.astimezone(UTC) + timedelta(microseconds=1)
        fire = trigger.get_next_fire_time(previous, after)
        if fire is None:
            break
        shortest = min(shortest, fire - previous)
        if shortest < READER_FLOOR:
            break
        previous = fire
    return shortest


def parse_schedule(text: str, tz: tzinfo, setting: str = "DIGEST_SCHEDULE") -> BaseTrigger:
    """An APScheduler trigger from a schedule: a five-field crontab line (`0 7 * * *`),
    @hourly, @daily, @weekly (and @monthly, @yearly), or `every N` seconds, minutes or hours
    (`every 30s`, `every 15m`, `every 2h`). Raises ConfigError naming `setting`."""
    spec = " ".join(text.split()).lower()
    if spec.startswith("every"):
        m = _EVERY.fullmatch(spec)
        if m is None or int(m[1]) == 0:
            raise ConfigError(
                f"{setting}={text!r}: write `every N` with a unit s, m or h,"
                " and N at least 1, e.g. `every 30m`"
            )
        if len(m[1]) > 9 or int(m[1]) * _SECONDS[m[2]] > LONGEST_INTERVAL:
            raise ConfigError(
                f"{setting}={text!r} is out of range: `every N` may be at most"
                f" {LONGEST_INTERVAL // 3600}h (a year); for longer, use a crontab line"
            )
        return IntervalTrigger(timezone=tz, **{_UNITS[m[2]]: int(m[1])})
    spec = ALIASES.get(spec, spec)
    fields = spec.split()
    if len(fields) != 5 or spec.startswith("@"):
        raise ConfigError(
            f"{setting}={text!r} is not a schedule; use a crontab line of five fields"
            " (minute hour day month weekday, e.g. `0 7 * * *`), @hourly, @daily, @weekly,"
            " or `every 30m`"
        )
    return Crontab(text, fields, tz, setting)


class Crontab(BaseTrigger):  # type: ignore[misc]
    """A crontab line, with crontab's meaning where APScheduler 3 differs from it: weekdays
    count from Sunday (0 or 7), a restricted day of month and day of week both match (either
    one fires), and a job at a fixed hour runs once, not twice, when clocks go back."""

    def __init__(
        self, text: str, fields: list[str], tz: tzinfo, setting: str = "DIGEST_SCHEDULE"
    ) -> None:
        minute, hour, day, month, weekday = fields
        try:
            days = _weekdays(weekday)
            if day.startswith("*") or weekday.startswith("*"):
                self.cron: BaseTrigger = CronTrigger(
                    minute=minute, hour=hour, day=day, month=month, day_of_week=days, timezone=tz
                )
            else:
                self.cron = OrTrigger(
                    [
                        CronTrigger(minute=minute, hour=hour, day=day, month=month, timezone=tz),
                        CronTrigger(
                            minute=minute, hour=hour, month=month, day_of_week=days, timezone=tz
                        ),
                    ]
                )
        except ValueError as e:
            raise ConfigError(f"{setting}={text!r}: {e}") from None
        self.text = text
        self.fixed_hour = not hour.startswith("*")

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        while True:
            fire: datetime | None = self.cron.get_next_fire_time(previous_fire_time, now)
            if fire is None or not (self.fixed_hour and _repeated(fire)):
                return fire
            previous_fire_time, now = fire, fire.astimezone(UTC) + timedelta(microseconds=1)

    def __str__(self) -> str:
        return self.text


def _repeated(moment: datetime) -> bool:
    """True for the second pass through a wall-clock time that occurs twice (clocks went back)."""
    return moment.fold == 1 and moment.utcoffset() != moment.replace(fold=0).utcoffset()


def _weekdays(weekday: str) -> str:
    """A crontab weekday field as APScheduler day names: APScheduler 3 counts from Monday,
    crontab from Sunday, so numbers (and steps, which count from Sunday) are spelled out."""
    if weekday == "*":
        return weekday
    chosen: set[int] = set()
    for part in weekday.split(","):
        span, slash, step_text = part.partition("/")
        if span == "*":
            first, last = 0, 6
        else:
            start, dash, end = span.partition("-")
            first = _day(start)
            last = _day(end) if dash else (6 if slash else first)
        step = int(step_text) if step_text.isdigit() else 0 if slash else 1
        if step < 1 or first > last:
            raise ValueError(f"weekday field {weekday!r} is not valid")
        chosen.update(d % 7 for d in range(first, last + 1, step))
    return ",".join(_DAYS[d] for d in sorted(chosen))


def _day(text: str) -> int:
    if text.isdigit() and int(text) <= 7:
        return int(text)
    if text in _DAYS:
        return _DAYS.index(text)
    raise ValueError(f"{text!r} is not a day of the week (0-7 or sun-sat)")


def missed_run(trigger: BaseTrigger, done_until: datetime | None, now: datetime) -> datetime | None:
    """The first fire time after `done_until` that is already past at `now`, if any: a run
    the service missed while it was down. None when nothing was missed or nothing is known."""
    if done_until is None:
        return None
    after = done_until.astimezone(UTC) + timedelta(microseconds=1)
    fire: datetime | None = trigger.get_next_fire_time(done_until, after)
    return fire if fire is not None and fire <= now else None
