"""Fixtures: a real emulator server on 127.0.0.1 (port 0), with a manual clock, and a client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from emulator_http_harness import Http, make_config

from cbr_emulator.clock import Clock
from cbr_emulator.config import EmulatorConfig
from cbr_emulator.server import RunningEmulator, start_emulator


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def clock() -> Clock:
    return Clock(manual=True)


@pytest.fixture
def config() -> EmulatorConfig:
    return make_config()


@pytest.fixture
async def running(config: EmulatorConfig, clock: Clock) -> AsyncIterator[RunningEmulator]:
    async with await start_emulator(config, clock=clock) as server:
        yield server


@pytest.fixture
def http(session: aiohttp.ClientSession, running: RunningEmulator) -> Http:
    return Http(session, running.base_url)
