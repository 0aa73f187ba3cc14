"""``emulator``: the CBR emulator as a server of its own; ``emulator-inventory``: what a running one holds."""

from __future__ import annotations

import asyncio
import json
import logging
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.app import app, console, errors, run_long_lived

DEFAULT_ENDPOINT = "http://127.0.0.1:8790"


class Speed(StrEnum):
    instant = "instant"
    fast = "fast"
    realistic = "realistic"


@app.command()
def emulator(
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
) -> None:
    """Run the CBR emulator until interrupted."""
    from cbr_emulator.faults import load_fault_plan
    from cbr_emulator.rate_limit import RateLimit
    from cbr_emulator.server import config_from_options, serve

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
        )
        faults = load_fault_plan(faults_file) if faults_file else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_long_lived(serve(config, host, port, faults))


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

    from orchestrator.cli.emulator_inventory import InventoryUnavailable, fetch_inventory, inventory_tables

    try:
        found = asyncio.run(fetch_inventory(endpoint, region, project_id, wait_seconds))
    except InventoryUnavailable as exc:
        errors.print(escape(str(exc)))
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps(found, indent=1))
    else:
        console.print(inventory_tables(found))
