"""Drill tests use the end-to-end fixtures of tests/engine (fresh database, own queue names, emulator)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from engine_fixture_set import connection, dsn, e2e, emulator, emulator_config, events_queue, settings, store  # noqa: F401 - fixtures
from pg_databases import migrated_template


@pytest.fixture(scope="session")
def template_db() -> Iterator[str]:
    """A template of its own: the engine folder's template (same session, same run tag) is another one."""
    yield from migrated_template("drills")
