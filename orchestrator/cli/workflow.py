"""``workflow retry|cancel``: act on one workflow that exists (``cancel`` is also a command of its own)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.markup import escape

from orchestrator.cli.app import ENV_DATABASE, app, console, errors, settings
from orchestrator.cli.cancel import cancel

workflow_app = typer.Typer(help="Retry or cancel one workflow.", no_args_is_help=True)
app.add_typer(workflow_app, name="workflow")
workflow_app.command("cancel", epilog=ENV_DATABASE)(cancel)


@workflow_app.command("retry", epilog=ENV_DATABASE)
def retry(ref: Annotated[str, typer.Argument(help="A workflow id or command id.")]) -> None:
    """Run an ended workflow (failed, cancelled, expired or partly failed) again as a new workflow under the
    command id ID-retry-N: a backup for the resources not backed up only; a restore or replication whole.
    The first workflow and its completion event stay as they are. Retrying the same workflow twice is a
    duplicate. Exit 0 when the retry is recorded (or was before), 1 when the workflow cannot be retried."""
    outcome = asyncio.run(_retry(settings().database_url, ref))
    if isinstance(outcome, str):
        errors.print(escape(outcome))
        raise typer.Exit(1)
    console.print(escape(outcome.line))


class _Recorded:
    def __init__(self, line: str) -> None:
        self.line = line


async def _retry(dsn: str, ref: str) -> _Recorded | str:
    from orchestrator.broker.intake import new_workflow
    from orchestrator.cli.retry_command import NotRetryable, retry_of
    from orchestrator.store import Store, Verdict

    store = await Store.connect(dsn, max_size=1)
    try:
        workflow = await store.status.find(ref)
        if workflow is None:
            return f"cannot retry: no workflow with id or command id {ref!r}"
        named = (
            f"{workflow.kind} workflow {workflow.id} (command {workflow.command_id}, {workflow.status.value})"
        )
        try:
            retry = retry_of(workflow)
        except NotRetryable as exc:
            return f"cannot retry {named}: {exc}"
        [verdict] = await store.create_workflows_if_absent([new_workflow(retry.command)])
    finally:
        await store.close()
    new_id = retry.command.command_id
    if verdict.verdict is Verdict.CONFLICT:
        return f"cannot retry {named}: command id {new_id} already names another command"
    said = "retried before as" if verdict.verdict is Verdict.DUPLICATE else "retry recorded:"
    left = "".join(f"; {rid} left out: {why}" for rid, why in retry.left_out.items())
    return _Recorded(
        f"{named} {said} workflow {verdict.workflow_id} (command {new_id}){left}; follow it with"
        f" `cbr-orchestrator status {new_id}`"
    )
