"""Fleet tests use the end-to-end fixtures of tests/engine (fresh database, own queue names, emulator)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ENGINE_TESTS = Path(__file__).parents[1] / "engine"
sys.path.insert(0, str(ENGINE_TESTS))

_spec = importlib.util.spec_from_file_location("engine_fixtures", ENGINE_TESTS / "conftest.py")
assert _spec is not None and _spec.loader is not None
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)

template_db = _fixtures.template_db
dsn = _fixtures.dsn
store = _fixtures.store
emulator_config = _fixtures.emulator_config
emulator = _fixtures.emulator
settings = _fixtures.settings
connection = _fixtures.connection
events_queue = _fixtures.events_queue
