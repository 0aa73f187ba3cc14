"""``hooks``: the named triggers of the triggers file, as the API server would load them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from orchestrator.cli.app import app, console, errors, settings

if TYPE_CHECKING:
    from orchestrator.api.triggers import Trigger

TRIGGERS_ENV = "CBR_ORCH_API__TRIGGERS_FILE names the file; the variables each trigger's secrets_env names."


@app.command(epilog=TRIGGERS_ENV)
def hooks(
    file: Annotated[
        Path | None, typer.Option("--file", help="The triggers file (default: CBR_ORCH_API__TRIGGERS_FILE).")
    ] = None,
) -> None:
    """List the named webhook triggers (POST /v1/hooks/<name>): verifier, filter, command; never a secret.

    Exits 2 with the reason when the file cannot be used (the API server would refuse to start)."""
    from orchestrator.api.triggers import TriggerError, load_triggers

    path = file or settings().api.triggers_file
    if path is None:
        errors.print("no triggers file: give --file or set CBR_ORCH_API__TRIGGERS_FILE")
        raise typer.Exit(2)
    try:
        triggers = load_triggers(path)
    except TriggerError as exc:
        errors.print(f"triggers: {escape(str(exc))}")
        raise typer.Exit(2) from None
    table = Table("name", "verifier", "secrets from", "filter", "command")
    for trigger in triggers.values():
        table.add_row(*(escape(cell) for cell in _row(trigger)))
    console.print(table)


def _row(trigger: Trigger) -> tuple[str, str, str, str, str]:
    spec = trigger.spec
    return (
        spec.name,
        spec.verifier,
        ", ".join(spec.secrets_env),
        spec.when or "every delivery",
        _what(spec.command, spec.set),
    )


def _what(command: dict[str, Any], mapped: dict[str, str]) -> str:
    """What the command does: its kind, project and region, and the fields the payload fills in."""
    kind, project, region = (command.get(k, "?") for k in ("kind", "project_id", "region"))
    done = f"{kind} in project {project} ({region})"
    vault = command.get("vault")
    if isinstance(vault, dict):
        done += f", vault {vault.get('name') or vault.get('id')}"
    return done + "".join(f"; {path} = {expression}" for path, expression in mapped.items())
