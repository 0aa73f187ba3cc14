"""The ``cbr-orchestrator`` command."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(
    help="Orchestrate Huawei Cloud CBR backups; run a local CBR emulator.", no_args_is_help=True
)
console = Console()


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
    speed: Annotated[str, typer.Option(help="Task speed: instant, fast or realistic.")] = "fast",
    servers: Annotated[int | None, typer.Option(help="Servers in each project's inventory.")] = None,
    disks: Annotated[int | None, typer.Option(help="Standalone disks in each project's inventory.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the generated inventory.")] = None,
) -> None:
    """Run the CBR emulator until interrupted."""
    from orchestrator.emulator.faults import load_fault_plan
    from orchestrator.emulator.server import config_from_options, serve
    from orchestrator.emulator.speeds import Speed

    if speed not in ("instant", "fast", "realistic"):
        raise typer.BadParameter("speed must be instant, fast or realistic", param_hint="--speed")
    chosen: Speed = speed  # type: ignore[assignment]
    try:
        config = config_from_options(tenants_file, tenant or (), chosen, servers, disks, seed)
        faults = load_fault_plan(faults_file) if faults_file else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(config, host, port, faults))


@app.command()
def tour() -> None:
    """Start an emulator in-process and walk through backup, restore and replication with our client."""
    from orchestrator.tour import run_tour

    asyncio.run(run_tour(console))


@app.command()
def demo() -> None:
    """The main job: a demonstration against the in-process emulator."""
    from orchestrator.tour import run_tour

    asyncio.run(run_tour(console))


def main() -> None:
    app()
