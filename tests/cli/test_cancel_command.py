"""``cbr-orchestrator cancel ID`` as a user runs it: what it prints and its exit code, by workflow id or
command id."""

from __future__ import annotations

import uuid

from cli_runner import run_cli
from store_rows import create_one

from orchestrator.store import Finish, NewWorkflow, Store, WorkflowStatus


async def workflow(store: Store, command_id: str, kind: str = "backup") -> uuid.UUID:
    wid, _ = await create_one(
        store, NewWorkflow(uuid.uuid4(), command_id, kind, "p", "r", {"command_id": command_id})
    )
    return wid


async def ended(store: Store, command_id: str, status: WorkflowStatus) -> uuid.UUID:
    wid = await workflow(store, command_id)
    [wf] = [w for w in await store.claim_due("w", 30, 100) if w.id == wid]
    await store.finish_with_event(wf.claim, {}, Finish(status, {"resources": []}), None)
    return wid


async def test_a_running_workflow_is_asked_to_cancel_once_by_command_id_or_id(dsn: str, store: Store) -> None:
    wid = await workflow(store, "nightly-1")
    run = await run_cli(dsn, "cancel", "nightly-1")
    assert run.code == 0, run.stderr
    assert f"cancel requested for backup workflow {wid} (command nightly-1, pending)" in run.stdout
    assert "it stops at its next step" in run.stdout
    again = await run_cli(dsn, "cancel", str(wid))
    assert again.code == 0, again.stderr
    assert "cancel already requested" in again.stdout
    wf = await store.get_workflow(wid)
    assert wf is not None and wf.cancel_requested_at is not None and not wf.status.is_final


async def test_a_fleet_says_that_its_children_are_cancelled_first(dsn: str, store: Store) -> None:
    await workflow(store, "fleet-1", kind="fleet_backup")
    run = await run_cli(dsn, "cancel", "fleet-1")
    assert run.code == 0, run.stderr
    assert "its children are cancelled first" in run.stdout


async def test_a_finished_workflow_is_refused_with_its_final_status(dsn: str, store: Store) -> None:
    wid = await ended(store, "done-1", WorkflowStatus.SUCCEEDED)
    run = await run_cli(dsn, "cancel", "done-1")
    assert run.code == 1
    assert f"cannot cancel backup workflow {wid} (command done-1): it already ended succeeded" in run.stderr
    wf = await store.get_workflow(wid)
    assert wf is not None and wf.cancel_requested_at is None


async def test_an_already_cancelled_workflow_is_fine(dsn: str, store: Store) -> None:
    wid = await ended(store, "gone-1", WorkflowStatus.CANCELLED)
    run = await run_cli(dsn, "cancel", str(wid))
    assert run.code == 0, run.stderr
    assert f"backup workflow {wid} (command gone-1) is already cancelled" in run.stdout


async def test_an_unknown_workflow_is_refused(dsn: str) -> None:
    run = await run_cli(dsn, "cancel", "no-such-command")
    assert run.code == 1
    assert "cannot cancel: no workflow with id or command id 'no-such-command'" in run.stderr
    assert "Traceback" not in run.stderr
