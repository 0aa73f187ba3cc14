"""Fleet tests use the end-to-end fixtures of tests/engine (fresh database, own queue names, emulator)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_databases import migrated_template

ENGINE_TESTS = Path(__file__).parents[1] / "engine"
sys.path.insert(0, str(ENGINE_TESTS))

_spec = importlib.util.spec_from_file_location("engine_fixtures", ENGINE_TESTS / "conftest.py")
assert _spec is not None and _spec.loader is not None
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)

dsn = _fixtures.dsn
store = _fixtures.store
emulator_config = _fixtures.emulator_config
emulator = _fixtures.emulator
settings = _fixtures.settings
connection = _fixtures.connection
events_queue = _fixtures.events_queue
e2e = _fixtures.e2e


@pytest.fixture(scope="session")
def template_db() -> Iterator[str]:
    """A template of its own: the engine folder's template (same session, same run tag) is another one."""
    yield from migrated_template("fleet")
