"""The emulator's world in a file (``cbr-emulator --state-file PATH``), so that it outlives a restart.

The file is JSON: ``{"format": "cbr-emulator-state", "version": 1, "world": {...}}``, where ``world`` is
:class:`WorldSnapshot` — every project's :class:`~cbr_emulator.state.ProjectState` whole (vaults, resources,
checkpoints, backups with their replication records and share members, operation logs, policies, tags,
inventory, what failed last), less the indexes rebuilt at load (:data:`~cbr_emulator.state.DERIVED_FIELDS`),
plus the id and failure generators and the emulator's clock. It is serialised through one pydantic
``TypeAdapter`` of those dataclasses, so a field added to them is carried without code here.

A file is written whole to a temporary file beside it, flushed to disk, then renamed over the old one:
a crash leaves the previous file or the new one, never half of one. A file that is not JSON, not this
format, another version or not a valid world is refused with :class:`StateFileError` (and left as it is).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from cbr_emulator.context import World
from cbr_emulator.domain_state import DomainState
from cbr_emulator.restart import resume
from cbr_emulator.state import DERIVED_FIELDS, ProjectState, RandomState

FORMAT = "cbr-emulator-state"
VERSION = 1


class StateFileError(Exception):
    """A state file that cannot be used; the message is one line naming the file and why."""


@dataclass
class WorldSnapshot:
    saved_at: datetime  # the emulator's clock when it was written
    ids: RandomState
    failures: RandomState
    projects: list[ProjectState]
    domains: list[DomainState] = field(default_factory=list)  # organisation policies, migrations


class StateDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["cbr-emulator-state"]
    version: Literal[1]
    world: WorldSnapshot


_NOT_SAVED = {"world": {"projects": {"__all__": set(DERIVED_FIELDS)}}}


def snapshot(world: World) -> WorldSnapshot:
    return WorldSnapshot(
        saved_at=world.clock.now(),
        ids=world.ids.state(),
        failures=world.rng.getstate(),
        projects=list(world.projects.values()),
        domains=list(world.domains.values()),
    )


def encode(world: World) -> bytes:
    document = StateDocument(format=FORMAT, version=VERSION, world=snapshot(world))
    return document.model_dump_json(exclude=_NOT_SAVED).encode()


def decode(raw: bytes, source: str = "the state file") -> WorldSnapshot:
    """The world in ``raw``; :class:`StateFileError` when it is not a state file of this version."""
    try:
        parsed: Any = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise StateFileError(f"{source} is corrupt: not JSON ({error})") from None
    if not isinstance(parsed, dict) or parsed.get("format") != FORMAT:
        raise StateFileError(f"{source} is not a CBR emulator state file (no \"format\": \"{FORMAT}\")")
    if parsed.get("version") != VERSION:
        raise StateFileError(f"{source} has version {parsed.get('version')!r}; this emulator reads {VERSION}")
    try:
        return StateDocument.model_validate(parsed).world
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(step) for step in first["loc"])
        raise StateFileError(f"{source} is corrupt: {where}: {first['msg']}") from None


def restore(world: World, saved: WorldSnapshot) -> None:
    """Put ``saved`` into a new, empty ``world``: objects, generators, clock (never moved back), then
    the timers again and an end for the tasks under way at the save (:func:`~cbr_emulator.restart.resume`)."""
    world.ids.restore(saved.ids)
    world.rng.setstate(saved.failures)
    for project in saved.projects:
        project.rebuild_indexes()
        world.projects[(project.region, project.project_id)] = project
    for domain in saved.domains:
        world.domains[domain.name] = domain
    behind = (saved.saved_at - world.clock.now()).total_seconds()
    if behind > 0:
        world.clock.advance(behind)
    resume(world, world.clock.now())


@dataclass(frozen=True)
class StateFile:
    path: Path

    def load(self) -> WorldSnapshot | None:
        """The saved world, or None when there is no file yet. Checks that the file can be replaced."""
        if not self.path.parent.is_dir():
            raise StateFileError(f"{self.path}: the directory {self.path.parent} does not exist")
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StateFileError(f"{self.path} cannot be read: {error.strerror}") from None
        return decode(raw, str(self.path))

    def write(self, data: bytes) -> None:
        """Replace the file with ``data`` atomically: a temporary file, fsync, rename, fsync the directory."""
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            with open(temporary, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        finally:
            temporary.unlink(missing_ok=True)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
