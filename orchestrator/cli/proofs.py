"""Commands that show and prove the product: ``demo``, ``tour``, ``soak``, ``bench``."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from orchestrator.cli.app import app, console


class Scenario(StrEnum):
    a = "a"
    b = "b"
    c = "c"
    d = "d"
    e = "e"
    all = "all"


class Select(StrEnum):
    protectables = "protectables"
    list = "list"


@app.command()
def tour() -> None:
    """Start an emulator in-process and walk through backup, restore and replication with our client."""
    from orchestrator.cli.tour import run_tour

    asyncio.run(run_tour(console))


@app.command()
def demo() -> None:
    """The main job: backup, restore and replication workflows through RabbitMQ on the emulator."""
    from orchestrator.cli.demo import DemoFailed, run_demo

    try:
        asyncio.run(run_demo(console))
    except (DemoFailed, TimeoutError) as exc:
        console.print(
            f"[bold red]✗ demo failed[/]: {escape(str(exc) or 'a workflow did not finish in time')}"
        )
        raise typer.Exit(1) from exc


@app.command()
def soak(
    commands: Annotated[
        int | None, typer.Option(min=1, help="Distinct valid commands of every kind (default 1000).")
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes kept running (default 3).")] = (
        None
    ),
    duration: Annotated[
        float | None,
        typer.Option(min=1, help="Seconds of chaos, over which the commands go out (default ~commands/8)."),
    ] = None,
    settle: Annotated[
        float | None, typer.Option(min=1, help="Seconds to wait afterwards for every workflow to end (300).")
    ] = None,
    chaos_every: Annotated[
        float | None, typer.Option(min=0.5, help="Seconds between a SIGKILL + SIGTERM of workers (5).")
    ] = None,
    quick: Annotated[
        bool, typer.Option(help="The CI size: 120 commands, 3 workers, 40 s of chaos, 60 s to settle.")
    ] = False,
    no_chaos: Annotated[
        bool, typer.Option("--no-chaos", help="The control run: no kills, no faults, no restarts.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the command mix, the victims and the faults.")] = 1,
    logs_dir: Annotated[
        Path | None, typer.Option(help="Keep each worker's output in this directory.")
    ] = None,
    json_out: Annotated[Path | None, typer.Option(help="Also write the result as JSON to this file.")] = None,
) -> None:
    """Prove the guarantees under chaos: N commands, W workers killed and terminated, faults, restarts.

    Runs on private PostgreSQL and RabbitMQ instances it starts (as root or the postgres user) and an
    emulator in its own process; exits 1 when a command was lost, a CBR side effect duplicated, a valid
    command dead-lettered or a bad message dropped in silence.
    """
    from dataclasses import replace as changed

    from orchestrator.bench.soak import SoakOptions, run_soak, soak_json, soak_table

    base = SoakOptions.quick() if quick else SoakOptions()
    options = changed(
        base,
        commands=commands or base.commands,
        workers=workers or base.workers,
        duration_seconds=duration or base.duration_seconds,
        settle_seconds=settle or base.settle_seconds,
        chaos_every_seconds=chaos_every or base.chaos_every_seconds,
        chaos=not no_chaos,
        seed=seed,
        logs_dir=logs_dir,
    )
    if logs_dir is not None:
        logs_dir.mkdir(parents=True, exist_ok=True)
    for noisy in ("aio_pika", "aiormq"):  # the soak's own reconnects while the broker restarts
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    result = asyncio.run(run_soak(options, say=lambda line: console.print(f"[dim]{escape(line)}[/]")))
    console.print(soak_table(result))
    if json_out is not None:
        json_out.write_text(json.dumps(soak_json(result), indent=1, default=str) + "\n", "utf-8")
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def bench(
    scenario: Annotated[
        Scenario,
        typer.Option(
            help="a: queue throughput; b: fleet under limits; c: SDK baseline vs b; d: HTTP API throughput; "
            "e: fleet over many projects and regions."
        ),
    ] = Scenario.all,
    servers: Annotated[
        int | None, typer.Option(min=1, help="Servers in the fleet of b (default 10000).")
    ] = None,
    select: Annotated[
        Select,
        typer.Option(help="How b and e select: protectables (every server, as users do), or a list."),
    ] = Select.protectables,
    projects: Annotated[int | None, typer.Option(min=1, help="Projects of e (default 10).")] = None,
    regions: Annotated[int | None, typer.Option(min=1, max=5, help="Regions of e (default 2).")] = None,
    project_servers: Annotated[
        int | None, typer.Option(min=1, help="Servers in each project of e (default 10000).")
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="Emulator backups at once per project (default 200).")
    ] = None,
    rps: Annotated[float | None, typer.Option(help="Emulator requests/s per project (default 20).")] = None,
    task_seconds: Annotated[
        float | None, typer.Option(help="Duration of every emulated backup (default 3 s).")
    ] = None,
    quick: Annotated[
        bool, typer.Option(help="The small version CI runs (300 servers, 500 commands, 3 projects of 90).")
    ] = False,
    json_out: Annotated[
        Path | None, typer.Option(help="JSON file of the results (default bench-results/bench-<time>.json).")
    ] = None,
) -> None:
    """Benchmark against an emulator in its own process; print a table and the targets met, write JSON."""
    from orchestrator.bench import (
        SCENARIOS,
        BenchOptions,
        default_json_path,
        figures_table,
        run_bench,
        targets_table,
        write_json,
    )

    chosen = SCENARIOS if scenario is Scenario.all else (scenario.value,)
    options = BenchOptions(scenarios=chosen)
    options = options.quick() if quick else options
    options = replace(
        options,
        servers=servers or options.servers,
        concurrency=concurrency or options.concurrency,
        rps=rps or options.rps,
        task_seconds=task_seconds or options.task_seconds,
        select=select.value,
        projects=projects or options.projects,
        regions=regions or options.regions,
        project_servers=project_servers or options.project_servers,
    )
    if options.regions > options.projects:
        raise typer.BadParameter("at most one region per project", param_hint="--regions")
    results = asyncio.run(run_bench(options))
    console.print(figures_table(results))
    console.print(targets_table(results))
    path = write_json(results, json_out or default_json_path())
    console.print(f"results written to {escape(str(path))}")
