"""Against the emulator's per-project rate limit: adapt down with few 429s, speed up once it is lifted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from cbr_emulator.config import DEFAULT_TENANT, EmulatorConfig, Progression
from cbr_emulator.server import RunningEmulator, start_emulator
from orchestrator.cbr.clients import CbrClients
from orchestrator.cbr.errors import CbrApiError
from orchestrator.config import ProjectCredentials, RateLimitSettings, Settings
from orchestrator.ratelimit import RateLimiters

PROJECT, REGION = DEFAULT_TENANT.project_id, DEFAULT_TENANT.region
POLICY = RateLimitSettings(
    rate=60.0,
    burst=5,
    min_rate=2.0,
    max_rate=60.0,
    decrease_factor=0.5,
    increase_step=10.0,
    quiet_seconds=0.2,
    decrease_cooldown_seconds=0.5,
    lease_window_seconds=0.05,
)
CALLERS = 6


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    running = await start_emulator(EmulatorConfig(progression=Progression.instantly()))
    yield running
    await running.close()


@pytest.fixture
async def clients(dsn: str, emulator: RunningEmulator) -> AsyncIterator[tuple[CbrClients, RateLimiters]]:
    settings = Settings(
        database_url=dsn,
        credentials=[
            ProjectCredentials(
                project_id=PROJECT,
                region=REGION,
                access_key=DEFAULT_TENANT.access_key,
                secret_key=DEFAULT_TENANT.secret_key,
            )
        ],
        cbr_endpoints={REGION: emulator.base_url},
        cbr_timeout_seconds=5.0,
        rate_limit=POLICY,
    )
    limiters = await RateLimiters.open(dsn, POLICY)
    built = CbrClients(settings, limiters=limiters)
    yield built, limiters
    await built.close()
    await limiters.close()


async def _set_emulator_limit(emulator: RunningEmulator, body: dict[str, object]) -> None:
    url = f"{emulator.base_url}/_emulator/rate-limit"
    async with aiohttp.ClientSession() as http, http.put(url, json=body) as answer:
        assert answer.status == 200


async def _calls(clients: CbrClients, successes: int) -> None:
    """``successes`` list calls from several callers; a throttled call is simply made again."""
    client = clients.get(PROJECT, REGION)
    done = 0

    async def caller() -> None:
        nonlocal done
        while done < successes:
            try:
                await client.list_vaults()
            except CbrApiError as exc:
                if not exc.throttled:
                    raise
                continue
            done += 1

    await asyncio.gather(*(caller() for _ in range(CALLERS)))


async def test_the_limiter_adapts_to_the_cloud_limit_and_recovers_when_it_is_lifted(
    clients: tuple[CbrClients, RateLimiters], emulator: RunningEmulator
) -> None:
    cbr, limiters = clients
    limiter = limiters.for_project(PROJECT, REGION)
    await _set_emulator_limit(emulator, {"requests_per_second": 15, "burst": 5})

    await _calls(cbr, 40)
    throttled = emulator.counters.snapshot()["throttled"]["total"]
    adapted = limiter.rate
    # without the limiter six callers retrying at once get thousands of 429s; with it, a few per cut
    assert 1 <= throttled <= 30
    assert adapted < POLICY.max_rate

    await _set_emulator_limit(emulator, {"requests_per_second": None})
    emulator.counters.reset()
    deadline = time.monotonic() + 20  # generous bound: +10/s every 0.2 s of calls
    while limiter.rate < POLICY.max_rate and time.monotonic() < deadline:
        await _calls(cbr, 20)
    assert limiter.rate == POLICY.max_rate > adapted
    assert emulator.counters.snapshot()["throttled"]["total"] == 0
    print(f"429s while adapting: {throttled}; adapted rate {adapted:.1f}/s, back to {limiter.rate:.1f}/s")
