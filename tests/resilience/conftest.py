"""Fixtures for restart tests: private PostgreSQL and RabbitMQ instances, an emulator, fresh databases.

The private services are module-scoped (one cold start per module) and always removed, even when a test
fails. They are never skipped: a missing binary is an error, so a broken machine shows up as a failure.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from resilience_helpers import COMMANDS, REPORT, SHARED_ADMIN_DSN, emulator_config_for

from cbr_emulator.config import EmulatorConfig
from cbr_emulator.server import RunningEmulator, start_emulator
from orchestrator.bench.soak.services import PrivatePostgres, PrivateRabbit
from orchestrator.store import run_migrations
from orchestrator.store.database import create_database, drop_database

RUN = uuid.uuid4().hex[:8]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "resilience: restarts private PostgreSQL/RabbitMQ instances mid-run; always runs (never skipped),"
        " deselect locally with -m 'not resilience'",
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if REPORT:
        terminalreporter.section("resilience figures")
        for line in REPORT:
            terminalreporter.write_line(line)


@pytest.fixture(scope="module")
def private_rabbit() -> Iterator[PrivateRabbit]:
    rabbit = PrivateRabbit()
    try:
        rabbit.start()
        yield rabbit
    finally:
        rabbit.close()


@pytest.fixture
async def rabbit(private_rabbit: PrivateRabbit) -> PrivateRabbit:
    """The private broker, running (started again if an earlier test left it down)."""
    if private_rabbit.pid is None:
        await asyncio.to_thread(private_rabbit.start)
    return private_rabbit


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivatePostgres]:
    postgres = PrivatePostgres()
    try:
        postgres.start()
        yield postgres
    finally:
        postgres.close()


async def _fresh_database(admin_dsn: str, *, throwaway: bool) -> AsyncIterator[str]:
    """Create and migrate a database; drop it afterwards (on a throw-away cluster, best effort)."""
    name = f"cbro_resilience_{RUN}_{uuid.uuid4().hex[:8]}"
    dsn = admin_dsn.rsplit("/", 1)[0] + "/" + name
    await create_database(dsn, connect_timeout=10)
    try:
        await run_migrations(dsn)
        yield dsn
    finally:
        try:
            await drop_database(dsn, connect_timeout=10)
        except (OSError, asyncpg.PostgresError):
            if not throwaway:  # the private cluster may be down after a failure; it goes anyway
                raise


@pytest.fixture
async def shared_dsn() -> AsyncIterator[str]:
    """A fresh, migrated database on the machine's shared PostgreSQL (which nobody restarts)."""
    async for dsn in _fresh_database(SHARED_ADMIN_DSN, throwaway=False):
        yield dsn


@pytest.fixture
async def private_dsn(private_postgres: PrivatePostgres) -> AsyncIterator[str]:
    """A fresh, migrated database on the private PostgreSQL (which the test may restart)."""
    if not private_postgres.is_ready():  # an earlier test left it down: bring it back first
        await asyncio.to_thread(private_postgres.start)
    async for dsn in _fresh_database(private_postgres.admin_dsn, throwaway=True):
        yield dsn


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return emulator_config_for(COMMANDS)


@pytest.fixture
async def emulator(emulator_config: EmulatorConfig) -> AsyncIterator[RunningEmulator]:
    running = await start_emulator(emulator_config)
    try:
        yield running
    finally:
        await running.close()
