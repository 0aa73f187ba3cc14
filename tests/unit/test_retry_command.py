"""What `workflow retry` derives from an ended workflow: the command id, which resources, what is dropped."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orchestrator.cli.retry_command import NotRetryable, derived_command_id, retry_of
from orchestrator.messages import BackupCommand, RestoreCommand
from orchestrator.store.models import Workflow, WorkflowStatus
from orchestrator.workflows.base import MAY_STILL_FINISH

PROJECT, REGION = "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "eu-west-101"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def ended(kind: str, status: WorkflowStatus, command: dict[str, Any], state: dict[str, Any]) -> Workflow:
    return Workflow(
        id=uuid.uuid4(), command_id=command["command_id"], kind=kind, status=status, project_id=PROJECT,
        region=REGION, input=command, state=state, result=None, error_code=None, error_message=None,
        attempts=1, lease_owner=None, lease_expires_at=None, next_run_at=NOW, deadline=None,
        reply_to="replies", correlation_id="corr", created_at=NOW, updated_at=NOW, finished_at=NOW,
    )  # fmt: skip


def backup(**over: Any) -> dict[str, Any]:
    return {
        "kind": "backup",
        "version": 1,
        "command_id": "nightly-7",
        "project_id": PROJECT,
        "region": REGION,
        "vault": {"name": "v"},
        "resources": [{"id": r} for r in ("done", "running-in-cbr", "never-started")],
        **over,
    }


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("nightly-7", "nightly-7-retry-1"),
        ("nightly-7-retry-1", "nightly-7-retry-2"),
        ("a-retry-x", "a-retry-x-retry-1"),
    ],
)
def test_the_derived_command_id_counts_retries(old: str, new: str) -> None:
    assert derived_command_id(old) == new


def test_a_derived_command_id_stays_within_the_id_limit() -> None:
    derived = derived_command_id("x" * 128)
    assert len(derived) == 128 and derived.endswith("-retry-1")


def test_a_cancelled_backup_is_retried_for_the_resources_neither_backed_up_nor_maybe_finishing() -> None:
    results = {
        "done": {"status": "succeeded", "backup_id": "b-1"},
        "running-in-cbr": {"status": "failed", "error_message": f"{MAY_STILL_FINISH} (checkpoint c-1)"},
        "never-started": {"status": "skipped", "error_message": "cancelled before its backup started"},
    }
    deadline = (NOW - timedelta(hours=1)).isoformat()
    admission = {"start_by": deadline, "project_tasks": 5}
    workflow = ended(
        "backup",
        WorkflowStatus.CANCELLED,
        backup(deadline=deadline, admission=admission),
        {"results": results},
    )
    retry = retry_of(workflow)
    assert isinstance(retry.command, BackupCommand)
    assert retry.command.command_id == "nightly-7-retry-1"
    assert [r.id for r in retry.command.resources] == ["never-started"]
    assert set(retry.left_out) == {"done", "running-in-cbr"}
    assert "b-1" in retry.left_out["done"] and "may still finish" in retry.left_out["running-in-cbr"]
    assert retry.command.deadline is None
    assert retry.command.admission is not None
    assert (retry.command.admission.start_by, retry.command.admission.project_tasks) == (None, 5)


def test_a_restore_is_retried_whole_and_keeps_where_its_event_goes() -> None:
    command = {
        "kind": "restore", "version": 1, "command_id": "restore-1", "project_id": PROJECT, "region": REGION,
        "backup_id": "b-1", "volume_id": "v-1", "reply_to": "replies", "correlation_id": "corr",
    }  # fmt: skip
    retry = retry_of(ended("restore", WorkflowStatus.FAILED, command, {}))
    assert isinstance(retry.command, RestoreCommand)
    assert (retry.command.command_id, retry.command.backup_id) == ("restore-1-retry-1", "b-1")
    assert (retry.command.reply_to, retry.command.correlation_id) == ("replies", "corr")


@pytest.mark.parametrize(
    ("kind", "status", "state", "why"),
    [
        ("backup", WorkflowStatus.RUNNING, {}, "it is running"),
        ("backup", WorkflowStatus.SUCCEEDED, {}, "it is succeeded"),
        ("fleet_backup", WorkflowStatus.FAILED, {}, "child by child"),
        (
            "backup",
            WorkflowStatus.PARTIALLY_SUCCEEDED,
            {"results": {r: {"status": "succeeded"} for r in ("done", "running-in-cbr", "never-started")}},
            "nothing to retry",
        ),
    ],
)
def test_what_cannot_be_retried_says_why(
    kind: str, status: WorkflowStatus, state: dict[str, Any], why: str
) -> None:
    with pytest.raises(NotRetryable, match=why):
        retry_of(ended(kind, status, backup(), state))
