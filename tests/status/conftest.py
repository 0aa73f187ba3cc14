"""`status` end to end uses the fixtures of tests/engine (fresh database, own queue names, emulator)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_databases import migrated_template

from orchestrator.emulator.config import DEFAULT_TENANT, EmulatorConfig, Progression

ENGINE_TESTS = Path(__file__).parents[1] / "engine"
sys.path.insert(0, str(ENGINE_TESTS))

_spec = importlib.util.spec_from_file_location("engine_fixtures", ENGINE_TESTS / "conftest.py")
assert _spec is not None and _spec.loader is not None
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)

dsn = _fixtures.dsn
store = _fixtures.store
emulator = _fixtures.emulator
settings = _fixtures.settings
connection = _fixtures.connection
events_queue = _fixtures.events_queue
e2e = _fixtures.e2e


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    """The default tenant, and a project in another region to replicate into."""
    from engine_helpers import DEST

    return EmulatorConfig(tenants=[DEFAULT_TENANT, DEST], progression=Progression.instantly())


@pytest.fixture(scope="session")
def template_db() -> Iterator[str]:
    """A template of its own: the engine folder's template (same session, same run tag) is another one."""
    yield from migrated_template("status")
