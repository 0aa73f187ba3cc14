"""The fixtures of tests/engine (fresh database, own queue names, emulator, end-to-end runner), for the
folders that run workflows end to end too: ``from engine_fixture_set import dsn, store, …`` in their
conftest. Also puts tests/engine on the path, for ``engine_helpers``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ENGINE_TESTS = Path(__file__).parent / "engine"
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
