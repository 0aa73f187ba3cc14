"""The tick policy: soon when tasks end or should end, growing back-off up to a maximum when none are due."""

from __future__ import annotations

from orchestrator.polling.tick import TickPolicy, expected_remaining

POLICY = TickPolicy(min_seconds=5, max_seconds=60, growth=2)


def test_an_ended_task_brings_the_next_tick_to_the_minimum() -> None:
    assert POLICY.next_delay(40, [None, 300], ended=1) == 5


def test_the_soonest_expected_end_sets_the_tick_within_bounds() -> None:
    assert POLICY.next_delay(5, [30, 12, None], ended=0) == 12
    assert POLICY.next_delay(5, [1], ended=0) == 5
    assert POLICY.next_delay(5, [3600], ended=0) == 60


def test_nothing_due_backs_off_to_the_maximum() -> None:
    delays = [POLICY.next_delay(None, [], 0)]
    for _ in range(6):
        delays.append(POLICY.next_delay(delays[-1], [None], 0))
    assert delays == [5, 10, 20, 40, 60, 60, 60]


def test_around_a_poll_interval() -> None:
    assert TickPolicy.around(0.5) == TickPolicy(min_seconds=0.5, max_seconds=6.0)


def test_expected_remaining_from_progress() -> None:
    assert expected_remaining(25, 10) == 30
    assert expected_remaining(100, 10) == 0
    assert expected_remaining(0, 10) is None
    assert expected_remaining(None, 10) is None
    assert expected_remaining(50, None) is None
