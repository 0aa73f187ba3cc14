"""RRULEs read in a time zone: wall times across both DST changes, a skipped hour's occurrences counted
once, and which occurrence a tick runs after downtime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice

import pytest

from orchestrator.schedules.rules import (
    BadRule,
    check_occurs,
    due,
    instants_after,
    next_after,
    read_rule,
)

BERLIN = "Europe/Berlin"


def _first(rule_text: str, zone: str, start: datetime, n: int) -> list[datetime]:
    rule = read_rule(rule_text, zone, start)
    return list(islice(instants_after(rule, start - timedelta(seconds=1)), n))


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_a_daily_wall_time_keeps_its_local_hour_over_the_spring_change() -> None:
    # 02:30 does not exist on 29 March 2026 in Berlin: read with the offset before the change (RFC 5545)
    got = _first("FREQ=DAILY;BYHOUR=2;BYMINUTE=30;BYSECOND=0", BERLIN, _utc(2026, 3, 28), 3)
    assert got == [_utc(2026, 3, 28, 1, 30), _utc(2026, 3, 29, 1, 30), _utc(2026, 3, 30, 0, 30)]


def test_an_ambiguous_autumn_wall_time_runs_once_at_its_first() -> None:
    got = _first("RRULE:FREQ=DAILY;BYHOUR=2;BYMINUTE=30;BYSECOND=0", BERLIN, _utc(2026, 10, 24), 3)
    assert got == [_utc(2026, 10, 24, 0, 30), _utc(2026, 10, 25, 0, 30), _utc(2026, 10, 26, 1, 30)]


def test_the_skipped_spring_hour_is_not_a_second_occurrence() -> None:
    got = _first("FREQ=HOURLY", BERLIN, _utc(2026, 3, 28, 23), 4)
    assert got == [_utc(2026, 3, 28, 23), _utc(2026, 3, 29, 0), _utc(2026, 3, 29, 1), _utc(2026, 3, 29, 2)]


def test_the_repeated_autumn_hour_is_one_occurrence_per_wall_time() -> None:
    got = _first("FREQ=HOURLY", BERLIN, _utc(2026, 10, 24, 23), 4)
    # 02:00 summer time (00:00 UTC) runs; 02:00 winter time (01:00 UTC), the same wall time again, does not
    assert got == [
        _utc(2026, 10, 24, 23),
        _utc(2026, 10, 25, 0),
        _utc(2026, 10, 25, 2),
        _utc(2026, 10, 25, 3),
    ]


def test_after_downtime_the_latest_missed_occurrence_is_due_and_the_others_counted() -> None:
    start = _utc(2026, 1, 1)
    rule = read_rule("FREQ=SECONDLY;INTERVAL=2", "UTC", start)
    found = due(rule, start, start + timedelta(seconds=11), timedelta(minutes=1))
    assert found is not None
    assert (found.occurrence, found.skipped, found.in_window) == (start + timedelta(seconds=10), 4, True)
    assert due(rule, found.occurrence, start + timedelta(seconds=11), timedelta(minutes=1)) is None


def test_an_occurrence_older_than_the_catch_up_window_is_not_in_it() -> None:
    start = _utc(2026, 1, 1)
    rule = read_rule("FREQ=HOURLY", "UTC", start)
    found = due(rule, start, start + timedelta(hours=3, minutes=30), timedelta(minutes=10))
    assert found is not None and (found.skipped, found.in_window) == (2, False)


def test_a_rule_that_ended_has_no_next_occurrence() -> None:
    rule = read_rule("FREQ=DAILY;COUNT=2", "UTC", _utc(2026, 1, 1))
    assert next_after(rule, _utc(2026, 1, 1, 12)) == _utc(2026, 1, 2)
    assert next_after(rule, _utc(2026, 1, 3)) is None


@pytest.mark.parametrize(
    ("text", "zone", "says"),
    [
        ("FREQ=DAILY;BYHOUR=25", "UTC", "not an RRULE"),
        ("FREQ=SOMETIMES", "UTC", "not an RRULE"),
        ("DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY", "UTC", "without DTSTART"),
        ("", "UTC", "one RRULE line"),
        ("FREQ=DAILY;UNTIL=20270101T000000", BERLIN, "not an RRULE"),
        ("FREQ=DAILY", "Mars/Olympus_Mons", "unknown time zone"),
        ("FREQ=DAILY", "../../etc/passwd", "unknown time zone"),
    ],
)
def test_a_rule_or_zone_we_cannot_read_is_refused_with_a_reason(text: str, zone: str, says: str) -> None:
    with pytest.raises(BadRule, match=says):
        read_rule(text, zone, _utc(2026, 1, 1))


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=31", "no occurrence in the next 400 days"),
        (
            "FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30;UNTIL=20260301T000000Z",
            "no occurrence in the next 400 days",
        ),
        ("FREQ=MONTHLY;INTERVAL=12;BYMONTH=6", "no occurrence"),  # from January: every January only
        ("FREQ=DAILY;COUNT=2", "has ended"),
        ("FREQ=DAILY;UNTIL=20260102T000000Z", "has ended"),
    ],
)
def test_a_rule_that_never_occurs_again_is_refused(text: str, says: str) -> None:
    with pytest.raises(BadRule, match=says):
        check_occurs(text, "Europe/Berlin", _utc(2026, 1, 1), _utc(2026, 6, 1))


@pytest.mark.parametrize(
    ("text", "now"),
    [
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", _utc(2027, 6, 1)),  # 29 February 2028
        ("FREQ=DAILY;BYHOUR=2;BYMINUTE=30", _utc(2026, 3, 28, 12)),  # a wall time the DST change skips
        ("FREQ=SECONDLY;INTERVAL=2", _utc(2026, 6, 1)),
        ("FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13", _utc(2026, 6, 1)),
    ],
)
def test_a_rule_that_occurs_again_is_accepted(text: str, now: datetime) -> None:
    check_occurs(text, "Europe/Berlin", _utc(2026, 1, 1), now)


# around the spring changes of Berlin, New York and Lord Howe (half an hour)
DST_CHANGES = [
    _utc(2026, 3, 29, 0, 30),
    _utc(2026, 3, 29, 1, 0),
    _utc(2026, 3, 8, 7, 0),
    _utc(2026, 4, 4, 15, 0),
]


@pytest.mark.parametrize(
    "text",
    [
        "FREQ=SECONDLY;INTERVAL=7",
        "FREQ=MINUTELY;INTERVAL=13;BYHOUR=1,2,3",
        "FREQ=HOURLY;INTERVAL=5",
        "FREQ=HOURLY;BYDAY=SU;BYMINUTE=15",
        "FREQ=DAILY;INTERVAL=3",
        "FREQ=DAILY;BYMONTHDAY=-1;BYHOUR=2;BYMINUTE=30",
        "FREQ=HOURLY;INTERVAL=7;BYSETPOS=1",
        "FREQ=MINUTELY;INTERVAL=90;UNTIL=20260401T000000Z",
    ],
)
@pytest.mark.parametrize("zone", [BERLIN, "America/New_York", "Australia/Lord_Howe"])
@pytest.mark.parametrize("near", DST_CHANGES)
def test_a_rule_searched_from_near_a_later_instant_has_the_same_occurrences(
    text: str, zone: str, near: datetime
) -> None:
    start = datetime(2026, 3, 1, 13, 47, 11, tzinfo=UTC)
    whole = list(islice(instants_after(read_rule(text, zone, start), near), 50))
    from_near = list(islice(instants_after(read_rule(text, zone, start, near=near), near), 50))
    assert from_near == whole
