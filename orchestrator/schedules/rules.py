"""An RRULE (RFC 5545, as CBR policies write them) read in a time zone: its occurrences as UTC instants.

Occurrences are wall-clock times in the zone (``FREQ=DAILY;BYHOUR=2`` is 02:00 local, summer and winter).
A wall time that does not exist (the hour skipped in spring) is read with the offset before the change
(RFC 5545: 02:30 is 03:30 summer time); one that exists twice (autumn) is its first. Two wall times that
name one instant are one occurrence.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import DAILY, HOURLY, MINUTELY, SECONDLY, rrule, rrulestr

RRULE_MAX_CHARS = 500


class BadRule(ValueError):
    """An RRULE or time zone we cannot read; the message is safe to show."""


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``Europe/Berlin``, ``UTC``)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # ValueError/OSError: a key that is a path
        raise BadRule(f"unknown time zone {name[:64]!r} (an IANA name such as Europe/Berlin)") from None


def read_rule(text: str, time_zone: str, start: datetime, near: datetime | None = None) -> rrule:
    """The rule ``text`` (``FREQ=…;…``, ``RRULE:`` optional) from ``start`` (an instant) in ``time_zone``.
    ``near``: only occurrences from then on are wanted (the rule is then searched from a later start, see
    :func:`_rebased`)."""
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[len("RRULE:") :]
    if len(body) > RRULE_MAX_CHARS or any(c in body for c in "\r\n:") or not body:
        raise BadRule(f"one RRULE line of at most {RRULE_MAX_CHARS} characters, without DTSTART (give start)")
    local_start = start.astimezone(zone(time_zone)).replace(fold=0)
    try:
        rule = rrulestr(body, dtstart=local_start)
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise BadRule(f"not an RRULE: {str(exc)[:200]}") from None
    if not isinstance(rule, rrule):
        raise BadRule("one RRULE, not a set")
    return rule if near is None else _rebased(rule, local_start, near.astimezone(local_start.tzinfo))


_UNIT_SECONDS = {DAILY: 86_400, HOURLY: 3600, MINUTELY: 60, SECONDLY: 1}
MOVE_MARGIN = timedelta(hours=3)  # more than any DST change: a start moved in wall time stays before near


def _rebased(rule: rrule, local_start: datetime, near: datetime) -> rrule:
    """The same rule from a start moved forward to shortly before ``near``, with the same occurrences from
    ``near`` on: dateutil walks a rule from its start at every search (a FREQ=SECONDLY rule started a month
    ago: 2.6 million steps). Moved in wall time by whole intervals, so that its grid stays and the fields a
    rule leaves out, which dateutil takes from the start (the seconds of a MINUTELY rule, the time of day of
    a DAILY one), stay too; only when no COUNT counts from the start, and for DAILY and finer rules."""
    freq, interval = getattr(rule, "_freq"), getattr(rule, "_interval")  # noqa: B009 (no public accessor)
    if getattr(rule, "_count") is not None or freq not in _UNIT_SECONDS:  # noqa: B009
        return rule
    step = timedelta(seconds=interval * _UNIT_SECONDS[freq])
    ahead = near.replace(tzinfo=None) - local_start.replace(tzinfo=None) - MOVE_MARGIN
    moves = ahead // step
    if moves <= 0:
        return rule
    return rule.replace(dtstart=local_start + moves * step)


PROBE_DAYS = 400  # a rule must occur within this long after it is added
GREGORIAN_CYCLE_YEARS = 400  # the calendar repeats exactly (weekdays, leap years) after this
LATEST_PROBE_YEAR = 9997  # room for the probe's horizon before datetime's last year


def check_occurs(text: str, time_zone: str, start: datetime, now: datetime, days: int = PROBE_DAYS) -> None:
    """:class:`BadRule` unless the rule occurs within ``days`` after ``now``, and again after ``now``.

    dateutil searches a rule that never matches (``BYMONTH=2;BYMONTHDAY=31``) up to the year 9999, whatever
    its UNTIL (seconds of CPU). So the probe is the same rule whole Gregorian cycles later, as near the year
    9999 as fits, where that search is at most a cycle long."""
    cycles = max(0, (LATEST_PROBE_YEAR - now.year - 1) // GREGORIAN_CYCLE_YEARS)
    years = cycles * GREGORIAN_CYCLE_YEARS
    later_now = _years_later(now, years)
    later_start = _years_later(start, years)
    probe = read_rule(text, time_zone, later_start, near=later_now).replace(count=None, until=None)
    upcoming = probe.after(later_now)
    if upcoming is None or upcoming > later_now + timedelta(days=days):
        raise BadRule(f"no occurrence in the next {days} days")
    if (
        read_rule(text, time_zone, start, near=now).after(now) is None
    ):  # bounded now: it occurs every `days` at most
        raise BadRule("the rule has ended (its COUNT or UNTIL)")


def _years_later(instant: datetime, years: int) -> datetime:
    return instant.replace(year=instant.year + years)  # whole cycles: a 29 February stays one


def instants_after(rule: rrule, after: datetime) -> Iterator[datetime]:
    """The rule's occurrences strictly after the instant ``after``, as UTC instants, rising, each once."""
    last = after
    for occurrence in rule.xafter(after, inc=False):
        instant = occurrence.astimezone(UTC)
        if instant > last:  # a skipped hour's wall times name instants already passed
            last = instant
            yield instant


def next_after(rule: rrule, now: datetime) -> datetime | None:
    """The first occurrence after ``now`` (None: the rule has ended)."""
    return next(instants_after(rule, now), None)


@dataclass(frozen=True)
class Due:
    """The occurrence a tick deals with: the latest not after now; those before it are skipped (run once)."""

    occurrence: datetime
    skipped: int
    in_window: bool  # not further back than the catch-up window: run it


def due(rule: rrule, after: datetime, now: datetime, catch_up_window: timedelta) -> Due | None:
    """The latest occurrence in (``after``, ``now``], with how many before it were passed over."""
    latest: datetime | None = None
    passed = 0
    for instant in instants_after(rule, after):
        if instant > now:
            break
        if latest is not None:
            passed += 1
        latest = instant
    if latest is None:
        return None
    return Due(latest, passed, latest >= now - catch_up_window)
