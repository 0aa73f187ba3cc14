"""Schedule tests: a fresh migrated database per test; those that run a worker use the end-to-end fixtures
of tests/engine (own queue names, an emulator with a few servers that back up at once)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from engine_fixture_set import connection, dsn, emulator, events_queue, settings, store  # noqa: F401 - fixtures
from pg_databases import migrated_template

from cbr_emulator.config import EmulatorConfig, Inventory, Progression


@pytest.fixture(scope="session")
def template_db() -> Iterator[str]:
    yield from migrated_template("schedules")


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(progression=Progression.instantly(), inventory=Inventory(servers=3, disks=0))
