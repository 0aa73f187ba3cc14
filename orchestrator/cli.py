"""The ``cbr-orchestrator`` command."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Coroutine
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from orchestrator.config import Settings

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
    backup_capacity: Annotated[
        int | None, typer.Option(help="Backup tasks running at once per project; more wait (default: none).")
    ] = None,
    rate_limit: Annotated[
        float | None, typer.Option(help="Requests per second per project; more get 429 (default: no limit).")
    ] = None,
    burst: Annotated[int, typer.Option(help="Requests a project may send at once under --rate-limit.")] = 10,
) -> None:
    """Run the CBR emulator until interrupted."""
    from orchestrator.emulator.faults import load_fault_plan
    from orchestrator.emulator.rate_limit import RateLimit
    from orchestrator.emulator.server import config_from_options, serve
    from orchestrator.emulator.speeds import Speed

    if speed not in ("instant", "fast", "realistic"):
        raise typer.BadParameter("speed must be instant, fast or realistic", param_hint="--speed")
    chosen: Speed = speed  # type: ignore[assignment]
    try:
        limit = RateLimit(requests_per_second=rate_limit, burst=burst)
        config = config_from_options(
            tenants_file,
            tenant or (),
            chosen,
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


@app.command()
def tour() -> None:
    """Start an emulator in-process and walk through backup, restore and replication with our client."""
    from orchestrator.tour import run_tour

    asyncio.run(run_tour(console))


@app.command()
def demo() -> None:
    """The main job: backup, restore and replication workflows through RabbitMQ on the emulator."""
    from orchestrator.demo import DemoFailed, run_demo

    try:
        asyncio.run(run_demo(console))
    except (DemoFailed, TimeoutError) as exc:
        console.print(
            f"[bold red]✗ demo failed[/]: {escape(str(exc) or 'a workflow did not finish in time')}"
        )
        raise typer.Exit(1) from exc


def run_long_lived(main: Coroutine[Any, Any, None]) -> None:
    """Run a server process (worker, emulator) on uvloop: a faster event loop where most time is I/O."""
    import uvloop

    uvloop.run(main)


def _settings() -> Settings:
    from orchestrator.config import Settings

    try:
        return Settings()
    except ValueError as exc:
        raise typer.BadParameter(f"configuration: {exc}") from exc


@app.command()
def migrate() -> None:
    """Apply the SQL migrations not applied yet (safe to run twice, and by two processes at once)."""
    from orchestrator.store import run_migrations

    applied = asyncio.run(run_migrations(_settings().database_url))
    console.print(f"applied migrations: {escape(str(applied))}" if applied else "database is up to date")


@app.command()
def worker() -> None:
    """Run intake, engine and event relay in one process until SIGINT/SIGTERM; run several at once."""
    from orchestrator.worker import run_worker, stop_on_signals

    settings = _settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def run() -> None:
        stop = asyncio.Event()
        with stop_on_signals(stop):
            await run_worker(settings, stop)

    run_long_lived(run())


@app.command()
def submit(
    file: Annotated[Path | None, typer.Argument(help="JSON file with one command, or '-' for stdin.")] = None,
    command_json: Annotated[str | None, typer.Option("--json", help="The command as a JSON string.")] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow the workflow to its end with a live progress bar.")
    ] = False,
) -> None:
    """Publish one command (see `cbr-orchestrator schema`) to the commands queue."""
    from orchestrator.broker import submit as publish
    from orchestrator.messages import InvalidCommand, parse_command

    if (file is None) == (command_json is None):
        raise typer.BadParameter("give a FILE or --json, not both")
    if command_json is not None:
        raw = command_json.encode()
    else:
        raw = sys.stdin.buffer.read() if str(file) == "-" else Path(str(file)).read_bytes()
    try:
        command = parse_command(raw)
    except InvalidCommand as exc:
        console.print(f"[red]command refused[/]: {escape(exc.reason)}")
        raise typer.Exit(2) from exc
    settings = _settings()
    asyncio.run(publish(settings, command))
    console.print(f"submitted {command.kind} command {escape(command.command_id)}")
    if wait:
        _wait_and_summarise(settings.database_url, command.command_id)


WAIT_EXIT_CODES = {"succeeded": 0, "partially_succeeded": 3}


def _wait_and_summarise(dsn: str, command_id: str) -> None:
    """Exit 0 when the workflow succeeded, 3 when partially, 1 otherwise."""
    from orchestrator.fleet.watch import wait_for_workflow
    from orchestrator.store import workflow_status
    from orchestrator.views import workflow_detail

    final = asyncio.run(wait_for_workflow(dsn, command_id, console))
    detail = asyncio.run(workflow_status(dsn, str(final.id)))
    if detail is not None:
        console.print(workflow_detail(detail))
    raise typer.Exit(WAIT_EXIT_CODES.get(final.status.value, 1))


RESOURCES_PAGE_MAX = 1000  # a page is a table in the terminal: more rows take seconds to lay out


@app.command()
def status(
    ref: Annotated[str | None, typer.Argument(help="A workflow id or command id: show it in detail.")] = None,
    state: Annotated[str | None, typer.Option("--status", help="Only workflows in this status.")] = None,
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
    from orchestrator.store import WorkflowStatus, list_workflows
    from orchestrator.views import workflows_table

    dsn = _settings().database_url
    if resources and ref is None:
        raise typer.BadParameter("--resources needs a fleet's workflow id or command id", param_hint="REF")
    if resources and limit > RESOURCES_PAGE_MAX:
        raise typer.BadParameter(f"at most {RESOURCES_PAGE_MAX} resources a page", param_hint="--limit")
    if ref is not None:
        _show_workflow(dsn, ref, (offset, limit) if resources else None)
        return
    try:
        wanted = WorkflowStatus(state) if state else None
    except ValueError as exc:
        raise typer.BadParameter(f"unknown status {state!r}", param_hint="--status") from exc
    console.print(workflows_table(asyncio.run(list_workflows(dsn, wanted, limit))))


def _show_workflow(dsn: str, ref: str, page: tuple[int, int] | None) -> None:
    """One workflow in detail, or (``page``: offset, limit) one page of a fleet's resources."""
    from orchestrator.store import workflow_status
    from orchestrator.store.status import fleet_resources
    from orchestrator.views import resources_table, workflow_detail

    missing = f"[red]no workflow with id or command id {escape(repr(ref))}[/]"
    if page is None:
        detail = asyncio.run(workflow_status(dsn, ref))
        if detail is None:
            console.print(missing)
            raise typer.Exit(1)
        console.print(workflow_detail(detail))
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


@app.command()
def schema() -> None:
    """Print the JSON Schema of every command and of the event envelope."""
    from orchestrator.messages import json_schemas

    console.print_json(json.dumps(json_schemas()))


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

    from orchestrator.soak import SoakOptions, run_soak, soak_json, soak_table

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
        str, typer.Option(help="a: queue throughput; b: fleet under limits; c: SDK baseline vs b; all.")
    ] = "all",
    servers: Annotated[int | None, typer.Option(min=1, help="Servers in the fleet (default 10000).")] = None,
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="Emulator backups at once per project (default 200).")
    ] = None,
    rps: Annotated[float | None, typer.Option(help="Emulator requests/s per project (default 20).")] = None,
    task_seconds: Annotated[
        float | None, typer.Option(help="Duration of every emulated backup (default 3 s).")
    ] = None,
    quick: Annotated[bool, typer.Option(help="The small version CI runs (600 servers, 500 commands).")] = (
        False
    ),
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

    chosen = SCENARIOS if scenario == "all" else (scenario,)
    if any(s not in SCENARIOS for s in chosen):
        raise typer.BadParameter("scenario must be a, b, c or all", param_hint="--scenario")
    options = BenchOptions(scenarios=chosen)
    options = options.quick() if quick else options
    options = replace(
        options,
        servers=servers or options.servers,
        concurrency=concurrency or options.concurrency,
        rps=rps or options.rps,
        task_seconds=task_seconds or options.task_seconds,
    )
    results = asyncio.run(run_bench(options))
    console.print(figures_table(results))
    console.print(targets_table(results))
    path = write_json(results, json_out or default_json_path())
    console.print(f"results written to {escape(str(path))}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
