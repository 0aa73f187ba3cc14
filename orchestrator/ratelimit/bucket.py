"""The arithmetic of an adaptive token bucket, as pure functions of a state and an explicit time.

The shared bucket of a (region, project) lives in PostgreSQL and is updated by the statements
``lease_rate_tokens`` and ``throttle_rate_bucket`` (``store/queries/workflows.sql``), which compute
exactly what :func:`lease` and :func:`throttle` compute here (a test holds them to it). The same
functions drive the local bucket a process falls back to while the database is unreachable.

Times are seconds on one clock; rates are calls per second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from orchestrator.config import RateLimitSettings

EPOCH = 0.0  # "long ago": the value of every moment a new bucket has not seen yet
WHOLE = 1e-9  # a permit short by rounding error only is a whole permit


@dataclass(frozen=True)
class BucketState:
    rate: float
    tokens: float
    refilled_at: float  # refill runs from here; never before blocked_until
    blocked_until: float = EPOCH
    last_decrease_at: float = EPOCH
    calm_since: float = EPOCH  # start of the current quiet period: the last 429 or increase
    throttled_count: int = 0


@dataclass(frozen=True)
class Lease:
    state: BucketState
    granted: int
    wait_seconds: float  # when nothing was granted: how long until a permit can be


def new_bucket(policy: RateLimitSettings, now: float) -> BucketState:
    rate = clamp_rate(policy.rate, policy)
    return BucketState(rate=rate, tokens=float(policy.burst), refilled_at=now, calm_since=now)


def clamp_rate(rate: float, policy: RateLimitSettings) -> float:
    return min(policy.max_rate, max(policy.min_rate, rate))


def lease_size(rate: float, policy: RateLimitSettings) -> int:
    """Permits to ask for at once: about ``lease_window_seconds`` of calls, 1 to ``max_lease``."""
    return max(1, min(policy.max_lease, policy.burst, math.ceil(rate * policy.lease_window_seconds)))


def lease(state: BucketState, want: int, now: float, policy: RateLimitSettings) -> Lease:
    """Refill from the elapsed time, grant up to ``want`` whole permits, and maybe raise the rate."""
    rate = clamp_rate(state.rate, policy)
    available = min(float(policy.burst), state.tokens + max(0.0, now - state.refilled_at) * rate)
    blocked = now < state.blocked_until
    granted = 0 if blocked else min(want, math.floor(available + WHOLE))
    increase = not blocked and rate < policy.max_rate and now - state.calm_since >= policy.quiet_seconds
    new_state = replace(
        state,
        rate=min(policy.max_rate, rate + policy.increase_step) if increase else rate,
        tokens=available - granted,
        refilled_at=max(now, state.refilled_at),
        calm_since=now if increase else state.calm_since,
    )
    return Lease(new_state, granted, 0.0 if granted else _wait(state, available, rate, now))


def _wait(state: BucketState, available: float, rate: float, now: float) -> float:
    return max(0.0, state.blocked_until - now, state.refilled_at - now) + max(0.0, 1.0 - available) / rate


def throttle(
    state: BucketState, block_seconds: float | None, now: float, policy: RateLimitSettings
) -> BucketState:
    """A 429: empty the bucket, block until Retry-After, and cut the rate (once per cooldown)."""
    block = policy.default_block_seconds if block_seconds is None else max(0.0, block_seconds)
    blocked_until = max(state.blocked_until, now + block)
    decrease = now - state.last_decrease_at >= policy.decrease_cooldown_seconds
    rate = clamp_rate(state.rate, policy)
    return replace(
        state,
        rate=max(policy.min_rate, rate * policy.decrease_factor) if decrease else rate,
        tokens=0.0,
        refilled_at=max(state.refilled_at, blocked_until),
        blocked_until=blocked_until,
        last_decrease_at=now if decrease else state.last_decrease_at,
        calm_since=now,
        throttled_count=state.throttled_count + 1,
    )
