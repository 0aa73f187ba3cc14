"""An in-memory cloud behind the engine's action interface, for engine tests that need precise faults.

It reuses the real error mapping (it raises :class:`CbrApiError`) and the real step recording; only
the HTTP exchange is replaced. End-to-end tests use the emulator instead.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from dataclasses import dataclass, field

from orchestrator.cbr.errors import CbrApiError, ErrorKind
from orchestrator.engine import CbrActions
from orchestrator.workflows.base import (
    AddResources,
    BackupSeen,
    CheckpointCreated,
    CheckpointLookup,
    CheckpointStatus,
    CreateCheckpoint,
    CreateVault,
    FindCheckpoint,
    FindVault,
    Observation,
    PollCheckpoint,
    Request,
    ResourcesAdded,
    ShowVault,
    VaultFound,
    VaultMissing,
)


def busy(op: str) -> CbrApiError:
    return CbrApiError(
        operation=op,
        status=400,
        code="BackupService.6125",
        message="A backup task is in progress.",
        kind=ErrorKind.RETRY_LATER,
    )


def lost(op: str) -> CbrApiError:
    return CbrApiError(
        operation=op,
        status=0,
        code="timeout",
        message="no answer",
        kind=ErrorKind.RETRY_LATER,
        outcome_unknown=True,
    )


def terminal(op: str) -> CbrApiError:
    return CbrApiError(
        operation=op,
        status=400,
        code="BackupService.6114",
        message="vault capacity exceeded",
        kind=ErrorKind.TERMINAL,
    )


@dataclass
class Checkpoint:
    id: str
    vault_id: str
    resources: tuple[str, ...]
    description: str
    polls: int = 0


@dataclass
class FakeCloud(CbrActions):
    """``faults[request type name]`` is a list of errors raised (in order) before normal answers.

    A ``lost`` fault on CreateCheckpoint performs the call and then loses the answer.
    """

    faults: dict[str, list[CbrApiError]] = field(default_factory=dict)
    polls_until_done: int = 1
    latency: float = 0.0
    vaults: dict[str, tuple[str, set[str]]] = field(default_factory=dict)  # id -> (name, resources)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def dispatch(self, project: str, region: str, req: Request) -> Observation:
        name = type(req).__name__
        self.calls[name] += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        queued = self.faults.get(name) or []
        fault = queued.pop(0) if queued else None
        if fault is not None and not fault.outcome_unknown:
            raise fault
        observation = self._answer(req)
        if fault is not None:
            raise fault  # executed, answer lost
        return observation

    def _answer(self, req: Request) -> Observation:
        if isinstance(req, FindVault):
            found = [(vid, res) for vid, (vname, res) in self.vaults.items() if vname == req.name]
            return VaultFound(found[0][0], tuple(sorted(found[0][1]))) if found else VaultMissing()
        if isinstance(req, ShowVault):
            __, res = self.vaults[req.vault_id]
            return VaultFound(req.vault_id, tuple(sorted(res)))
        if isinstance(req, CreateVault):
            vid = f"v{next(self._ids)}"
            self.vaults[vid] = (req.name, {rid for rid, _ in req.resources})
            return VaultFound(vid, tuple(sorted(self.vaults[vid][1])))
        if isinstance(req, AddResources):
            self.vaults[req.vault_id][1].update(rid for rid, _ in req.resources)
            return ResourcesAdded()
        if isinstance(req, CreateCheckpoint):
            cp = Checkpoint(f"cp{next(self._ids)}", req.vault_id, req.resource_ids, req.description)
            self.checkpoints.append(cp)
            return CheckpointCreated(cp.id)
        if isinstance(req, FindCheckpoint):
            found = [
                c.id for c in self.checkpoints if req.marker in c.description and c.vault_id == req.vault_id
            ]
            return CheckpointLookup(found[0] if found else None)
        if isinstance(req, PollCheckpoint):
            cp = next(c for c in self.checkpoints if c.id == req.checkpoint_id)
            cp.polls += 1
            status = "available" if cp.polls >= self.polls_until_done else "protecting"
            return CheckpointStatus(
                status, tuple(BackupSeen(r, f"{cp.id}-{r}", status, 10) for r in cp.resources)
            )
        raise NotImplementedError(type(req).__name__)

    def checkpoints_with(self, marker: str) -> int:
        return sum(marker in c.description for c in self.checkpoints)
