"""``cancel``: ask a workflow to stop at its next step (docs/guarantees.md, "Cancelling")."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.markup import escape

from orchestrator.cli.app import ENV_DATABASE, app, console, errors, settings
from orchestrator.store.models import CancelOutcome, CancelVerdict


@app.command(epilog=ENV_DATABASE)
def cancel(ref: Annotated[str, typer.Argument(help="A workflow id or command id.")]) -> None:
    """Cancel a workflow: it stops at its next step and ends 'cancelled' with one event, its locks and
    slots given back; a fleet first cancels its children. CBR cannot cancel a backup, restore or
    replication already running: the workflow then reports what may still finish. Exit 0 when the cancel
    is recorded (or the workflow is already cancelled), 1 when there is no such workflow or it already
    ended otherwise."""
    outcome = asyncio.run(_request_cancel(settings().database_url, ref))
    if outcome.accepted:
        console.print(escape(accepted_line(outcome)))
        return
    errors.print(escape(refused_line(outcome)))
    raise typer.Exit(1)


async def _request_cancel(dsn: str, ref: str) -> CancelOutcome:
    from orchestrator.store import Store

    store = await Store.connect(dsn, max_size=1)
    try:
        return await store.request_cancel(ref)
    finally:
        await store.close()


def _named(outcome: CancelOutcome) -> str:
    return f"{outcome.kind} workflow {outcome.workflow_id} (command {outcome.command_id})"


def accepted_line(outcome: CancelOutcome) -> str:
    """What a recorded cancel did, in one line."""
    if outcome.verdict is CancelVerdict.ALREADY_CANCELLED:
        return f"{_named(outcome)} is already cancelled"
    again = "already " if outcome.verdict is CancelVerdict.ALREADY_REQUESTED else ""
    children = "; its children are cancelled first" if outcome.kind == "fleet_backup" else ""
    return (
        f"cancel {again}requested for {outcome.kind} workflow {outcome.workflow_id} (command"
        f" {outcome.command_id}, {outcome.status}): it stops at its next step{children}; follow it with"
        f" `cbr-orchestrator status {outcome.workflow_id}`"
    )


def refused_line(outcome: CancelOutcome) -> str:
    if outcome.verdict is CancelVerdict.NOT_FOUND:
        return f"cannot cancel: no workflow with id or command id {outcome.ref!r}"
    return f"cannot cancel {_named(outcome)}: it already ended {outcome.status}"
