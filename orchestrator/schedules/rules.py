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

from dateutil.rrule import rrule, rrulestr

RRULE_MAX_CHARS = 500


class BadRule(ValueError):
    """An RRULE or time zone we cannot read; the message is safe to show."""


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``Europe/Berlin``, ``UTC``)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # ValueError/OSError: a key that is a path
        raise BadRule(f"unknown time zone {name[:64]!r} (an IANA name such as Europe/Berlin)") from None


def read_rule(text: str, time_zone: str, start: datetime) -> rrule:
    """The rule ``text`` (``FREQ=…;…``, ``RRULE:`` optional) from ``start`` (an instant) in ``time_zone``."""
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
    return rule


PROBE_DAYS = 400  # a rule must occur within this (checked at add): longer searches cost seconds of CPU


def check_occurs(rule: rrule, now: datetime) -> None:
    """:class:`BadRule` unless the rule has an occurrence within :data:`PROBE_DAYS` after ``now``. A rule
    that never matches (``BYMONTH=2;BYMONTHDAY=31``) would have dateutil search up to the year 9999."""
    probe = rule.replace(count=None, until=now + timedelta(days=PROBE_DAYS))
    if probe.after(now) is None:
        raise BadRule(f"no occurrence in the next {PROBE_DAYS} days")
    if rule.after(now) is None:  # bounded now: it ends by its COUNT or UNTIL, or at the probe's occurrence
        raise BadRule("the rule has ended (its COUNT or UNTIL)")


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
