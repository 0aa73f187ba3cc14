"""Coverage tests use the end-to-end fixtures of tests/engine (fresh database, own queue names, emulator),
with a small inventory (8 servers, no free disks) so that every state can be counted exactly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from engine_fixture_set import connection, dsn, e2e, emulator, events_queue, settings, store  # noqa: F401 - fixtures
from pg_databases import migrated_template

from cbr_emulator.config import EmulatorConfig, Inventory, Progression


@pytest.fixture(scope="session")
def template_db() -> Iterator[str]:
    yield from migrated_template("coverage")


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(progression=Progression.instantly(), inventory=Inventory(servers=8, disks=0))
