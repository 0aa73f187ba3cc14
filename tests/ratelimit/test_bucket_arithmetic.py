"""The adaptive token bucket's arithmetic, with explicit times."""

from __future__ import annotations

import pytest

from orchestrator.config import RateLimitSettings
from orchestrator.ratelimit.bucket import BucketState, lease, lease_size, new_bucket, throttle

POLICY = RateLimitSettings(
    rate=10.0,
    burst=5,
    min_rate=1.0,
    max_rate=20.0,
    decrease_factor=0.5,
    increase_step=2.0,
    quiet_seconds=3.0,
    decrease_cooldown_seconds=1.0,
    default_block_seconds=1.5,
)
T0 = 1000.0


def test_a_new_bucket_grants_its_burst_then_asks_to_wait_one_interval() -> None:
    first = lease(new_bucket(POLICY, T0), 10, T0, POLICY)
    assert first.granted == 5
    second = lease(first.state, 10, T0, POLICY)
    assert second.granted == 0
    assert second.wait_seconds == pytest.approx(1 / 10)


def test_refill_follows_elapsed_time_and_stops_at_the_burst() -> None:
    empty = lease(new_bucket(POLICY, T0), 5, T0, POLICY).state
    assert lease(empty, 10, T0 + 0.35, POLICY).granted == 3  # 3.5 permits: whole ones only
    assert lease(empty, 10, T0 + 100, POLICY).granted == 5
    partial = lease(empty, 10, T0 + 0.35, POLICY).state
    assert partial.tokens == pytest.approx(0.5)


def test_throttle_blocks_until_retry_after_and_halves_the_rate() -> None:
    state = throttle(new_bucket(POLICY, T0), 2.0, T0, POLICY)
    assert state.rate == 5.0
    assert state.tokens == 0
    blocked = lease(state, 1, T0 + 1.9, POLICY)
    assert blocked.granted == 0
    assert blocked.wait_seconds == pytest.approx(0.1 + 1 / 5)
    assert lease(state, 1, T0 + 2.0, POLICY).granted == 0  # refill starts when the block ends
    assert lease(state, 5, T0 + 2.0 + 0.4, POLICY).granted == 2


def test_throttle_without_retry_after_blocks_for_the_default() -> None:
    state = throttle(new_bucket(POLICY, T0), None, T0, POLICY)
    assert state.blocked_until == T0 + 1.5


def test_a_burst_of_429s_cuts_the_rate_once_per_cooldown_and_never_below_the_floor() -> None:
    state = new_bucket(POLICY, T0)
    for offset in (0.0, 0.1, 0.5):  # the answers to one burst of calls
        state = throttle(state, 1.0, T0 + offset, POLICY)
    assert state.rate == 5.0
    assert state.throttled_count == 3
    for second in range(1, 10):
        state = throttle(state, 1.0, T0 + 1.0 + second * 1.1, POLICY)
    assert state.rate == POLICY.min_rate


def test_a_shorter_retry_after_never_shortens_a_block() -> None:
    state = throttle(new_bucket(POLICY, T0), 10.0, T0, POLICY)
    assert throttle(state, 1.0, T0 + 1, POLICY).blocked_until == T0 + 10


def test_quiet_periods_raise_the_rate_step_by_step_up_to_the_maximum() -> None:
    state = throttle(new_bucket(POLICY, T0), 1.0, T0, POLICY)  # rate 5, quiet since T0
    rates = []
    for step in range(1, 12):
        state = lease(state, 1, T0 + step * 3.0, POLICY).state
        rates.append(state.rate)
    assert rates[:4] == [7.0, 9.0, 11.0, 13.0]
    assert rates[-1] == POLICY.max_rate


def test_no_increase_before_the_quiet_period_nor_while_blocked() -> None:
    state = throttle(new_bucket(POLICY, T0), 10.0, T0, POLICY)
    assert lease(state, 1, T0 + 2.9, POLICY).state.rate == 5.0
    assert lease(state, 1, T0 + 5.0, POLICY).state.rate == 5.0  # quiet, but still blocked


def test_a_stored_rate_outside_the_configured_bounds_is_clamped() -> None:
    state = BucketState(rate=500.0, tokens=0.0, refilled_at=T0, calm_since=T0)
    assert lease(state, 1, T0 + 1, POLICY).state.rate == POLICY.max_rate


def test_lease_size_is_about_a_window_of_calls_within_bounds() -> None:
    policy = POLICY.model_copy(update={"burst": 100, "max_lease": 50, "lease_window_seconds": 0.1})
    assert lease_size(0.5, policy) == 1
    assert lease_size(200.0, policy) == 20
    assert lease_size(5000.0, policy) == 50
    assert lease_size(5000.0, POLICY.model_copy(update={"max_lease": 50})) == POLICY.burst


def test_many_small_leases_never_exceed_burst_plus_rate_times_time() -> None:
    policy = POLICY.model_copy(update={"quiet_seconds": 1e9})  # fixed rate
    state = new_bucket(policy, T0)
    granted, now = 0, T0
    while now < T0 + 60:
        result = lease(state, 3, now, policy)
        state, granted = result.state, granted + result.granted
        now += 0.013
    elapsed = now - 0.013 - T0
    assert granted <= policy.burst + policy.rate * elapsed
    assert granted >= policy.rate * elapsed - 3  # and the bucket does not starve either
