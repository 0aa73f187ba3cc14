"""``cbr-emulator`` (also ``python -m cbr_emulator``, and ``cbr-orchestrator emulator``): the CBR emulator
as a server of its own; ``cbr-emulator inventory`` lists what a running one holds.

Only ``typer`` and the standard library are imported here; the server is imported when the command runs.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class Speed(StrEnum):
    instant = "instant"
    fast = "fast"
    realistic = "realistic"


def emulator(
    context: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8790,
    tenants_file: Annotated[
        Path | None, typer.Option("--tenants", help="JSON or TOML file of tenants (AK, SK, project, region).")
    ] = None,
    tenant: Annotated[
        list[str] | None, typer.Option(help="A tenant as AK:SK:PROJECT_ID:REGION; repeatable.")
    ] = None,
    faults_file: Annotated[Path | None, typer.Option("--faults", help="JSON file of fault rules.")] = None,
    speed: Annotated[Speed, typer.Option(help="How fast tasks progress.")] = Speed.fast,
    servers: Annotated[int | None, typer.Option(help="Servers in each project's inventory.")] = None,
    disks: Annotated[int | None, typer.Option(help="Standalone disks in each project's inventory.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the generated inventory.")] = None,
    backup_capacity: Annotated[
        int | None, typer.Option(help="Backup tasks running at once per project; more wait (default: none).")
    ] = None,
    rate_limit: Annotated[
        float | None, typer.Option(help="Requests per second per project; more get 429 (default: no limit).")
    ] = None,
    burst: Annotated[int, typer.Option(help="Requests a project may send at once under --rate-limit.")] = 10,
    cross_server_restore: Annotated[
        bool,
        typer.Option(
            help="Let a server backup be restored onto another server (CBR refuses: 2003); for "
            "restore drills to scratch servers."
        ),
    ] = False,
    state_file: Annotated[
        Path | None,
        typer.Option(
            help="Keep the emulator's world in this file across restarts (read at start, written "
            "atomically while it changes and at a clean stop)."
        ),
    ] = None,
    state_save_seconds: Annotated[
        float, typer.Option(min=0.1, help="How often the state file is written while the world changes.")
    ] = 5.0,
) -> None:
    """Run the CBR emulator until interrupted."""
    if context.invoked_subcommand is not None:
        return
    import uvloop

    from cbr_emulator.faults import load_fault_plan
    from cbr_emulator.rate_limit import RateLimit
    from cbr_emulator.server import config_from_options, serve
    from cbr_emulator.state_file import StateFileError
    from cbr_emulator.state_keeper import StateKeeper

    try:
        limit = RateLimit(requests_per_second=rate_limit, burst=burst)
        config = config_from_options(
            tenants_file,
            tenant or (),
            speed.value,
            servers,
            disks,
            seed,
            backup_capacity=backup_capacity,
            rate_limit=limit,
            cross_server_restore=cross_server_restore,
        )
        faults = load_fault_plan(faults_file) if faults_file else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    try:
        keeper = StateKeeper.open(state_file, state_save_seconds) if state_file else None
    except StateFileError as error:
        typer.echo(f"cbr-emulator: refusing to start: {error}", err=True)
        raise typer.Exit(2) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvloop.run(serve(config, host, port, faults, keeper))


app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
)
app.callback(invoke_without_command=True)(emulator)


@app.command("inventory")
def inventory(
    endpoint: Annotated[str, typer.Option(help="The running emulator's URL.")] = "http://127.0.0.1:8790",
    region: Annotated[str | None, typer.Option(help="Only the projects of this region.")] = None,
    project_id: Annotated[str | None, typer.Option(help="Only this project.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the JSON of GET /_emulator/inventory, for scripts.")
    ] = False,
    wait_seconds: Annotated[
        float, typer.Option(min=0, help="How long to wait for the emulator to answer (it may be starting).")
    ] = 10.0,
) -> None:
    """List a running emulator's servers (with their disks) and standalone disks per project: ids, names,
    sizes, the vault each one is bound to and its newest available backup."""
    import asyncio
    import json

    from rich.console import Console

    from cbr_emulator.inventory_report import InventoryUnavailable, fetch_inventory, inventory_tables

    try:
        found = asyncio.run(fetch_inventory(endpoint, region, project_id, wait_seconds))
    except InventoryUnavailable as error:
        typer.echo(f"cbr-emulator: {error}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(found, indent=1))
    else:
        Console().print(inventory_tables(found))


def main() -> None:
    app(prog_name="cbr-emulator")
