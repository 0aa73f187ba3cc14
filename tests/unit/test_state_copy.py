"""A state's copy before a transition: nothing a change in place reaches is shared, immutable values are."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from orchestrator.messages import BackupCommand
from orchestrator.workflows.backup import BackupState, initial_state
from orchestrator.workflows.base import Intent

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def a_state() -> BackupState:
    command = BackupCommand.model_validate(
        {
            "command_id": "c1",
            "project_id": "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
            "region": "r1",
            "vault": {"id": "v1"},
            "resources": [{"id": "s0"}, {"id": "s1"}],
        }
    )
    state = initial_state(command, uuid.UUID(int=1))
    state.checkpoint_intent = Intent(announced_at=T0)
    state.budget.failures["CreateCheckpoint"] = 1
    return state


def test_a_copy_changed_in_place_leaves_the_original_as_it_was() -> None:
    state = a_state()
    before = state.model_dump()
    copied = state.model_copy(deep=True)
    copied.pending.append("s2")
    copied.budget.failures["CreateCheckpoint"] += 1
    assert copied.checkpoint_intent is not None
    copied.checkpoint_intent.lookups += 1
    assert state.model_dump() == before
    assert copied.model_dump() != before


def test_a_copy_shares_the_frozen_command_and_is_equal_to_its_original() -> None:
    state = a_state()
    copied = state.model_copy(deep=True)
    assert copied.command is state.command  # frozen: never changed in place
    assert copied == state and copied.model_fields_set == state.model_fields_set
    assert copied.pending is not state.pending and copied.budget is not state.budget
