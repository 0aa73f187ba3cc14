"""``schedules list|add|remove``: scheduled fleets, each a fleet_backup command submitted by the workers at
every occurrence of an RRULE in a time zone (see docs/schedules.md)."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.markup import escape
from rich.table import Table

from orchestrator.cli.app import ENV_DATABASE, app, console, errors, settings

if TYPE_CHECKING:
    from orchestrator.schedules.catalog import ScheduleView
    from orchestrator.schedules.spec import InvalidSchedule

schedules_app = typer.Typer(
    help="Scheduled fleets: list, add and remove schedules (the workers run them).", no_args_is_help=True
)
app.add_typer(schedules_app, name="schedules")
EXIT_REFUSED = 2


@schedules_app.command("list", epilog=ENV_DATABASE)
def list_command(as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False) -> None:
    """Every schedule: its rule and time zone, the next occurrence, and what the last one did (its workflow
    and outcome, the occurrences skipped after downtime, or why nothing was submitted)."""
    from orchestrator.schedules.catalog import list_schedules

    shown = asyncio.run(_with_store(list_schedules))
    if as_json:
        _print_json([s.model_dump(mode="json") for s in shown])
        return
    console.print(_table(shown))


@schedules_app.command("add", epilog=ENV_DATABASE)
def add_command(
    file: Annotated[
        Path | None,
        typer.Argument(help="JSON file with the fleet_backup command (no command_id), or '-' for stdin."),
    ] = None,
    command_json: Annotated[str | None, typer.Option("--json", help="The command as a JSON string.")] = None,
    name: Annotated[str, typer.Option("--name", help="A unique name: letters, digits, '.', '_', '-'.")] = "",
    rrule: Annotated[
        str, typer.Option("--rrule", help="RFC 5545 RRULE, e.g. 'FREQ=DAILY;BYHOUR=2;BYMINUTE=0;BYSECOND=0'.")
    ] = "",
    tz: Annotated[str, typer.Option("--tz", help="IANA time zone of the rule's wall times.")] = "UTC",
    start: Annotated[
        datetime | None,
        typer.Option("--start", help="The rule's DTSTART, a wall time in --tz (default: now)."),
    ] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Stored, not run.")] = False,
    as_json: Annotated[bool, typer.Option("--json-output", help="Print the schedule as JSON.")] = False,
) -> None:
    """Add a schedule: at each occurrence a worker submits the command under a command id of its own
    (derived from the schedule and the occurrence: never twice, whatever the number of workers)."""
    from orchestrator.schedules.catalog import ScheduleTaken, add_schedule
    from orchestrator.schedules.spec import InvalidSchedule, checked_spec

    if (file is None) == (command_json is None):
        raise typer.BadParameter("give a FILE or --json, not both")
    raw_command = _read_command(file, command_json)
    raw = {"name": name, "rrule": rrule, "time_zone": tz, "command": raw_command, "enabled": not disabled}
    if start is not None:
        raw["start"] = start.isoformat()
    try:
        spec = checked_spec(raw)
        added = asyncio.run(_with_store(lambda store: add_schedule(store, spec)))
    except InvalidSchedule as exc:
        _refused(exc)
    except ScheduleTaken as exc:
        errors.print(f"[red]schedule refused[/]: {escape(str(exc))}")
        raise typer.Exit(EXIT_REFUSED) from None
    if as_json:
        _print_json(added.model_dump(mode="json"))
        return
    console.print(f"added schedule {escape(added.name)}; next occurrence {_when(added.next_occurrence)}")


@schedules_app.command("remove", epilog=ENV_DATABASE)
def remove_command(
    name: Annotated[str, typer.Argument(help="The schedule's name.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
) -> None:
    """Remove a schedule: no more occurrences are submitted (its workflows go on)."""
    from orchestrator.schedules.catalog import remove_schedule

    removed = asyncio.run(_with_store(lambda store: remove_schedule(store, name)))
    if as_json:
        _print_json({"name": name, "removed": removed})
    elif removed:
        console.print(f"removed schedule {escape(name)}")
    else:
        errors.print(f"no schedule named {escape(name)}")
    if not removed:
        raise typer.Exit(1)


def _read_command(file: Path | None, command_json: str | None) -> Any:
    text = command_json
    if text is None:
        text = sys.stdin.read() if str(file) == "-" else Path(str(file)).read_text("utf-8")
    try:
        return json.loads(text)
    except ValueError as exc:
        errors.print(f"[red]schedule refused[/]: the command is not JSON ({type(exc).__name__})")
        raise typer.Exit(EXIT_REFUSED) from None


def _refused(exc: InvalidSchedule) -> NoReturn:
    errors.print(f"[red]schedule refused[/]: {escape(exc.reason)}")
    for where, what in exc.fields:
        errors.print(f"  {escape(where)}: {escape(what)}")
    raise typer.Exit(EXIT_REFUSED)


async def _with_store(action: Any) -> Any:
    from orchestrator.store import Store

    store = await Store.connect(settings().database_url, max_size=2)
    try:
        return await action(store)
    finally:
        await store.close()


def _table(shown: list[ScheduleView]) -> Table:
    table = Table("name", "rule", "time zone", "next", "last occurrence", "workflow", "outcome", "skipped")
    for s in shown:
        last = s.last_run
        outcome = last.outcome or (f"refused: {last.refusal}" if last.refusal else "")
        cells = (
            s.name + ("" if s.enabled else " (disabled)"),
            s.rrule,
            s.time_zone,
            _when(s.next_occurrence),
            _when(last.occurrence),
            str(last.workflow_id or ""),
            outcome,
            str(last.skipped),
        )
        table.add_row(*(escape(cell) for cell in cells))
    return table


def _when(instant: datetime | None) -> str:
    return instant.isoformat(timespec="seconds") if instant is not None else "—"


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2) + "\n")
