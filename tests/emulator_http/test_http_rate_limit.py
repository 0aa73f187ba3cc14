"""The per-project token bucket, alone and over HTTP."""

from __future__ import annotations

from emulator_http_harness import ALICE, ALICE_EU, Http, assert_gateway_error

from cbr_emulator.rate_limit import RateLimit, RateLimiter
from cbr_emulator.server import RunningEmulator


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_the_rate() -> None:
    time = FakeTime()
    limiter = RateLimiter(RateLimit(requests_per_second=2, burst=3), monotonic=time)
    assert [limiter.check("p") for _ in range(3)] == [None, None, None]
    wait = limiter.check("p")
    assert wait is not None
    assert abs(wait - 0.5) < 1e-9
    time.now += 0.5
    assert limiter.check("p") is None
    assert limiter.check("p") is not None
    assert limiter.check("other") is None


def test_no_limit_by_default() -> None:
    limiter = RateLimiter()
    assert all(limiter.check("p") is None for _ in range(1000))


def test_reconfiguring_refills_every_bucket() -> None:
    limiter = RateLimiter(RateLimit(requests_per_second=1, burst=1), monotonic=FakeTime())
    assert limiter.check("p") is None
    assert limiter.check("p") is not None
    limiter.configure(RateLimit(requests_per_second=1, burst=1))
    assert limiter.check("p") is None


async def test_exceeding_the_project_rate_is_429(http: Http, running: RunningEmulator) -> None:
    answer = await http.admin("PUT", "rate-limit", {"requests_per_second": 0.2, "burst": 2})
    assert answer.status == 200, answer.text
    statuses = [(await http.signed("GET", "/vaults")).status for _ in range(2)]
    assert statuses == [200, 200]
    throttled = await http.signed("GET", "/vaults")
    body = assert_gateway_error(throttled, 429, "APIG.0308")
    assert "throttled" in body["error_msg"]
    assert 1 <= int(throttled.headers["Retry-After"]) <= 5
    other_project = await http.signed("GET", "/vaults", project_id=ALICE_EU.project_id)
    assert other_project.status == 200
    counters = running.counters.snapshot()
    assert counters["throttled"] == {"total": 1, "rate_limit": 1}
    assert counters["requests"]["by_project"][ALICE.project_id] == 3


async def test_rate_limit_can_be_switched_off(http: Http) -> None:
    await http.admin("PUT", "rate-limit", {"requests_per_second": 0.1, "burst": 1})
    assert (await http.signed("GET", "/vaults")).status == 200
    assert (await http.signed("GET", "/vaults")).status == 429
    await http.admin("PUT", "rate-limit", {"requests_per_second": None})
    assert (await http.signed("GET", "/vaults")).status == 200
