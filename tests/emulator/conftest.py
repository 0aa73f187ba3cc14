from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the helper modules next to this file

from emu_helpers import AWAY, BUILT, NEIGHBOUR, Api, build

from cbr_emulator.service import Emulator


@pytest.fixture
def emulator() -> Emulator:
    return build()


@pytest.fixture
def api(emulator: Emulator) -> Api:
    return Api(emulator)


@pytest.fixture
def away(emulator: Emulator) -> Api:
    """The same emulator seen from a project in another region."""
    return Api(emulator, AWAY)


@pytest.fixture
def neighbour(emulator: Emulator) -> Api:
    """The same emulator seen from another project of the same region."""
    return Api(emulator, NEIGHBOUR)


@pytest.fixture(autouse=True)
def no_broken_timers() -> Iterator[None]:
    """A timer that raised is logged and skipped by the emulator; in tests it is a failure."""
    BUILT.clear()
    yield
    assert [e.world.scheduler.failures for e in BUILT] == [0] * len(BUILT)
