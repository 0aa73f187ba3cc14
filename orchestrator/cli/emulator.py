"""``emulator``: the CBR emulator as a server of its own; ``emulator-inventory``: what a running one holds."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from cbr_emulator.cli import emulator as run_emulator
from orchestrator.cli.app import app, console, errors

DEFAULT_ENDPOINT = "http://127.0.0.1:8790"


# the same command as ``cbr-emulator``, whose options it shares
app.command("emulator")(run_emulator)


@app.command("emulator-inventory")
def emulator_inventory(
    endpoint: Annotated[str, typer.Option(help="The running emulator's URL.")] = DEFAULT_ENDPOINT,
    region: Annotated[str | None, typer.Option(help="Only the projects of this region.")] = None,
    project_id: Annotated[str | None, typer.Option(help="Only this project.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the JSON of GET /_emulator/inventory, for scripts.")
    ] = False,
    wait_seconds: Annotated[
        float, typer.Option(min=0, help="How long to wait for the emulator to answer (it may be starting).")
    ] = 10.0,
) -> None:
    """List a running emulator's servers (with their disks) and standalone disks: ids, names, sizes, the
    vault each one is bound to and its newest available backup."""
    from rich.markup import escape

    from cbr_emulator.inventory_report import InventoryUnavailable, fetch_inventory, inventory_tables

    start_with = "cbr-orchestrator emulator --port PORT"
    try:
        found = asyncio.run(fetch_inventory(endpoint, region, project_id, wait_seconds, start_with))
    except InventoryUnavailable as exc:
        errors.print(escape(str(exc)))
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps(found, indent=1))
    else:
        console.print(inventory_tables(found))
