"""The browser test runs a fleet end to end (the fixtures of tests/engine) under the status page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from engine_fixture_set import connection, dsn, e2e, emulator, emulator_config, events_queue, settings, store  # noqa: F401 - fixtures
from pg_databases import migrated_template


@pytest.fixture(scope="session")
def template_db() -> Iterator[str]:
    yield from migrated_template("browser")
