"""Commands about workflows: ``submit`` a command, see its ``status``."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.markup import escape
from rich.text import Text

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
    events: Annotated[
        bool, typer.Option("--events", help="With a workflow: print each event's body (JSON).")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")
    ] = False,
) -> None:
    """List workflows (a fleet's children are in its detail), or show one workflow: its resources with
    their backup, checkpoint and vault ids, its step history and events (a fleet: its counts, first
    children and first failures; every resource's result with --resources, a page at a time)."""
    from orchestrator.cli.views.status import workflows_table
    from orchestrator.store import list_workflows

    dsn = settings().database_url
    if resources and ref is None:
        raise typer.BadParameter("--resources needs a fleet's workflow id or command id", param_hint="REF")
    if events and ref is None:
        raise typer.BadParameter("--events needs a workflow id or command id", param_hint="REF")
    if resources and limit > RESOURCES_PAGE_MAX:
        raise typer.BadParameter(f"at most {RESOURCES_PAGE_MAX} resources a page", param_hint="--limit")
    show = Shown(as_json, events)
    if ref is not None:
        _show_workflow(dsn, ref, (offset, limit) if resources else None, show)
        return
    listed = asyncio.run(list_workflows(dsn, state, limit))
    if as_json:
        from orchestrator.cli.views.status_json import workflows_json

        _print_json(workflows_json(listed))
        return
    console.print(workflows_table(listed))


@dataclass(frozen=True)
class Shown:
    """How ``status`` prints: JSON for scripts, or tables (with events' bodies when ``payloads``)."""

    as_json: bool = False
    payloads: bool = False


def _print_json(text: str) -> None:
    """JSON as it is: not through Rich, which would wrap it and read brackets as markup."""
    sys.stdout.write(text + "\n")


def _show_workflow(dsn: str, ref: str, page: tuple[int, int] | None, show: Shown) -> None:
    """One workflow in detail, or (``page``: offset, limit) one page of a fleet's resources."""
    if page is None:
        _show_detail(dsn, ref, show)
    else:
        _show_page(dsn, ref, page, show)


def _show_detail(dsn: str, ref: str, show: Shown) -> None:
    from orchestrator.cli.refusals import show_refusals_of
    from orchestrator.cli.views.status import workflow_detail
    from orchestrator.store import workflow_status

    detail = asyncio.run(workflow_status(dsn, ref, payloads=show.payloads or show.as_json))
    if detail is None:
        if not show.as_json:
            console.print(Text(_missing(ref), style="red"))
            show_refusals_of(dsn, ref)  # a command refused at intake has no workflow, but a reason
            raise typer.Exit(1)
        _fail(_missing(ref), show)
    if show.as_json:
        from orchestrator.cli.views.status_json import detail_json

        _print_json(detail_json(detail))
    else:
        console.print(workflow_detail(detail, payloads=show.payloads))
        show_refusals_of(dsn, detail.workflow.command_id)  # a command refused under this workflow's id


def _show_page(dsn: str, ref: str, page: tuple[int, int], show: Shown) -> None:
    from orchestrator.cli.views.status import resources_table
    from orchestrator.store.reads import fleet_resources

    found = asyncio.run(fleet_resources(dsn, ref, *page))
    if found is None:
        _fail(_missing(ref), show)
    workflow, resources = found
    if workflow.kind != "fleet_backup":
        _fail(f"--resources pages a fleet's resources; {ref!r} is a {workflow.kind}", show)
    if show.as_json:
        from orchestrator.cli.views.status_json import resources_json

        _print_json(resources_json(workflow, resources))
    else:
        console.print(resources_table(resources))


def _missing(ref: str) -> str:
    return f"no workflow with id or command id {ref!r}"


def _fail(message: str, show: Shown) -> NoReturn:
    """Exit 1 saying why: in red, or as ``{"error": ...}`` for a script reading JSON."""
    if show.as_json:
        _print_json(json.dumps({"error": message}))
    else:
        console.print(Text(message, style="red"))
    raise typer.Exit(1)
