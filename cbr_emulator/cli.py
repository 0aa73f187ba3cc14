"""``cbr-emulator`` (also ``python -m cbr_emulator``, and ``cbr-orchestrator emulator``): the CBR emulator
as a server of its own.

Only ``typer`` and the standard library are imported here; the server is imported when the command runs,
after :func:`require_emulator_extra` has checked that the emulator's own dependencies are installed.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from importlib import import_module
from pathlib import Path
from typing import Annotated

import typer

INSTALL_EXTRA = "pip install 'cbr-orchestrator[emulator]'"
# module -> distribution: the `emulator` extra of pyproject.toml, which nothing outside the emulator needs
EXTRA_MODULES = {"dateutil": "python-dateutil"}


def missing_extra() -> list[str]:
    """The distributions of the ``emulator`` extra that cannot be imported."""
    missing = []
    for module, distribution in EXTRA_MODULES.items():
        try:
            import_module(module)
        except ImportError:
            missing.append(distribution)
    return missing


def require_emulator_extra() -> None:
    """End the command with one line saying what to install when the ``emulator`` extra is missing."""
    missing = missing_extra()
    if missing:
        needs = ", ".join(missing)
        typer.echo(f"the CBR emulator needs {needs}, which is not installed: {INSTALL_EXTRA}", err=True)
        raise typer.Exit(1)


class Speed(StrEnum):
    instant = "instant"
    fast = "fast"
    realistic = "realistic"


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
    require_emulator_extra()
    import uvloop

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
    uvloop.run(serve(config, host, port, faults))


app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
)
app.command()(emulator)


def main() -> None:
    app(prog_name="cbr-emulator")
