"""Commands about workflows: ``submit`` a command, see its ``status``."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from orchestrator.cli.app import ENV_BROKER, ENV_DATABASE, app, console, settings
from orchestrator.cli.submitting import WAIT_HELP
from orchestrator.store.models import WorkflowStatus


@app.command(epilog=f"{ENV_DATABASE} {ENV_BROKER}")
def submit(
    file: Annotated[Path | None, typer.Argument(help="JSON file with one command, or '-' for stdin.")] = None,
    command_json: Annotated[str | None, typer.Option("--json", help="The command as a JSON string.")] = None,
    wait: Annotated[bool, typer.Option("--wait", help=WAIT_HELP)] = False,
    timeout: Annotated[
        float | None,
        typer.Option(min=0.1, metavar="<seconds>", help="With --wait: stop waiting after this many seconds."),
    ] = None,
) -> None:
    """Publish one command (see `cbr-orchestrator schema`) to the commands queue. A command id that already
    names a workflow is said first: the same command is a duplicate, another one is refused."""
    from orchestrator.broker import submit as publish
    from orchestrator.cli.submitting import check_before_publishing, wait_and_summarise
    from orchestrator.messages import InvalidCommand, parse_command

    if (file is None) == (command_json is None):
        raise typer.BadParameter("give a FILE or --json, not both")
    if timeout is not None and not wait:
        raise typer.BadParameter("--timeout bounds a --wait", param_hint="--timeout")
    if command_json is not None:
        raw = command_json.encode()
    else:
        raw = sys.stdin.buffer.read() if str(file) == "-" else Path(str(file)).read_bytes()
    try:
        command = parse_command(raw)
    except InvalidCommand as exc:
        console.print(f"[red]command refused[/]: {escape(exc.reason)}")
        raise typer.Exit(2) from exc
    chosen = settings()
    known = check_before_publishing(console, chosen, command, wait)
    asyncio.run(publish(chosen, command))
    console.print(f"submitted {command.kind} command {escape(command.command_id)}")
    if wait and known is not None:
        wait_and_summarise(console, chosen, command, known, timeout)


RESOURCES_PAGE_MAX = 1000  # a page is a table in the terminal: more rows take seconds to lay out


@app.command(epilog=ENV_DATABASE)
def status(
    ref: Annotated[str | None, typer.Argument(help="A workflow id or command id: show it in detail.")] = None,
    state: Annotated[
        WorkflowStatus | None, typer.Option("--status", help="Only workflows in this status.")
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=10_000, help="How many workflows to list, or resources to show.")
    ] = 50,
    resources: Annotated[
        bool, typer.Option("--resources", help="Page through a fleet's resources, each with its result.")
    ] = False,
    offset: Annotated[int, typer.Option(min=0, help="With --resources: resources to skip.")] = 0,
) -> None:
    """List workflows, or show one workflow with its step history and events (a fleet: its counts, first
    children and first failures; every resource's result with --resources, a page at a time)."""
    from orchestrator.store import list_workflows
    from orchestrator.views import workflows_table

    dsn = settings().database_url
    if resources and ref is None:
        raise typer.BadParameter("--resources needs a fleet's workflow id or command id", param_hint="REF")
    if resources and limit > RESOURCES_PAGE_MAX:
        raise typer.BadParameter(f"at most {RESOURCES_PAGE_MAX} resources a page", param_hint="--limit")
    if ref is not None:
        _show_workflow(dsn, ref, (offset, limit) if resources else None)
        return
    console.print(workflows_table(asyncio.run(list_workflows(dsn, state, limit))))


def _show_workflow(dsn: str, ref: str, page: tuple[int, int] | None) -> None:
    """One workflow in detail, or (``page``: offset, limit) one page of a fleet's resources."""
    from orchestrator.cli.refusals import show_refusals_of
    from orchestrator.store import workflow_status
    from orchestrator.store.status import fleet_resources
    from orchestrator.views import resources_table, workflow_detail

    missing = f"[red]no workflow with id or command id {escape(repr(ref))}[/]"
    if page is None:
        detail = asyncio.run(workflow_status(dsn, ref))
        if detail is None:
            console.print(missing)
            show_refusals_of(dsn, ref)
            raise typer.Exit(1)
        console.print(workflow_detail(detail))
        show_refusals_of(dsn, detail.workflow.command_id)  # a command refused under this workflow's id
        return
    found = asyncio.run(fleet_resources(dsn, ref, *page))
    if found is None:
        console.print(missing)
        raise typer.Exit(1)
    workflow, resources = found
    if workflow.kind != "fleet_backup":
        console.print(
            f"[red]--resources pages a fleet's resources; {escape(repr(ref))} is a {workflow.kind}[/]"
        )
        raise typer.Exit(1)
    console.print(resources_table(resources))
