"""Workflow kinds: each a pure state machine, looked up by the kind name stored with the workflow."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from orchestrator.messages import (
    CANCELLED,
    BackupCommand,
    FleetBackupCommand,
    Outcome,
    ReplicateCommand,
    RestoreCommand,
    RestoreDrillCommand,
)
from orchestrator.workflows import backup, drill, fleet, replicate, restore
from orchestrator.workflows.base import Done, MachineState, Observation, Request, Transition

S = TypeVar("S", bound=MachineState)
C = TypeVar("C", bound=BaseModel)


@dataclass(frozen=True)
class Kind(Generic[S, C]):
    name: str
    command_type: type[C]
    state_type: type[S]
    initial_state: Callable[[C, uuid.UUID], S]
    transition: Callable[[S, Observation], Transition]
    expire: Callable[[S], Done]
    fail: Callable[[S, str, str], Done] = lambda _state, code, message: Done(
        Outcome.FAILED, error_code=code, error_message=message
    )
    """Ends the workflow failed with an error (budget spent, runs failing): every resource reported."""
    cancel: Callable[[S, Request | None], Transition | None] = lambda state, _pending: Transition(
        state, (Done(Outcome.CANCELLED, error_code=CANCELLED, error_message="cancelled"),)
    )
    """Asked to cancel, before a call not made yet (or at the start of a run: None): how the workflow
    stops (its actions replace what it was about to do), or None to go on (e.g. an outcome to settle)."""

    def load(self, workflow_id: uuid.UUID, input_: dict[str, Any], state: dict[str, Any]) -> S:
        """The stored state, or the initial state built from the command on the first run."""
        if state:
            return self.state_type.model_validate(state)
        return self.initial_state(self.command_type.model_validate(input_), workflow_id)


KINDS: dict[str, Kind[Any, Any]] = {
    "backup": Kind(
        "backup",
        BackupCommand,
        backup.BackupState,
        backup.initial_state,
        backup.transition,
        backup.expire,
        backup.fail,
        backup.cancel,
    ),
    "restore": Kind(
        "restore",
        RestoreCommand,
        restore.RestoreState,
        restore.initial_state,
        restore.transition,
        restore.expire,
        restore.fail,
        restore.cancel,
    ),
    "replicate": Kind(
        "replicate",
        ReplicateCommand,
        replicate.ReplicateState,
        replicate.initial_state,
        replicate.transition,
        replicate.expire,
        replicate.fail,
        replicate.cancel,
    ),
    "fleet_backup": Kind(
        "fleet_backup",
        FleetBackupCommand,
        fleet.FleetState,
        fleet.initial_state,
        fleet.transition,
        fleet.expire,
        cancel=fleet.cancel,
    ),
    "restore_drill": Kind(
        "restore_drill",
        RestoreDrillCommand,
        drill.DrillState,
        drill.initial_state,
        drill.transition,
        drill.expire,
        drill.fail,
        drill.cancel,
    ),
}


def kind_of(name: str) -> Kind[Any, Any]:
    return KINDS[name]


__all__ = ["KINDS", "Kind", "kind_of"]
