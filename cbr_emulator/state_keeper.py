"""Keeping a running emulator's world in its state file: read at start, written every ``interval`` seconds
when something changed, and written once more when the emulator stops cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from cbr_emulator.service import Emulator
from cbr_emulator.state_file import StateFile, WorldSnapshot, encode

log = logging.getLogger("cbr_emulator")
DEFAULT_SAVE_SECONDS = 5.0


class StateKeeper:
    def __init__(self, state_file: StateFile, interval: float, saved: WorldSnapshot | None) -> None:
        self.state_file = state_file
        self.interval = interval
        self.saved = saved  # the world to start from, None for a new file
        self._written: int | None = None  # the emulator's revision last written

    @classmethod
    def open(cls, path: Path, interval: float = DEFAULT_SAVE_SECONDS) -> StateKeeper:
        """Read ``path`` (absent: a new world); raises ``StateFileError`` for a file it must not replace."""
        state_file = StateFile(path)
        return cls(state_file, interval, state_file.load())

    async def keep(self, emulator: Emulator, stop: asyncio.Event) -> None:
        """Save every ``interval`` seconds while the world changes, until ``stop`` is set."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
            if not stop.is_set() and emulator.revision != self._written:
                await self._save_in_background(emulator)

    async def _save_in_background(self, emulator: Emulator) -> None:
        revision, data = emulator.revision, encode(emulator.world)
        try:
            await asyncio.to_thread(self.state_file.write, data)
        except OSError as error:
            log.error("could not save the state file %s: %s", self.state_file.path, error)
            return
        self._written = revision

    def save(self, emulator: Emulator) -> None:
        """Write the world now (when the emulator stops)."""
        try:
            self.state_file.write(encode(emulator.world))
        except OSError as error:
            log.error("could not save the state file %s: %s", self.state_file.path, error)
            return
        log.info("CBR emulator state saved to %s", self.state_file.path)
