"""`status` end to end uses the fixtures of tests/engine (fresh database, own queue names, emulator)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from engine_fixture_set import connection, dsn, e2e, emulator, events_queue, settings, store  # noqa: F401 - fixtures
from pg_databases import migrated_template

from cbr_emulator.config import DEFAULT_TENANT, EmulatorConfig, Progression


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    """The default tenant, and a project in another region to replicate into."""
    from engine_helpers import DEST

    return EmulatorConfig(tenants=[DEFAULT_TENANT, DEST], progression=Progression.instantly())


@pytest.fixture(scope="session")
def template_db() -> Iterator[str]:
    """A template of its own: the engine folder's template (same session, same run tag) is another one."""
    yield from migrated_template("status")
