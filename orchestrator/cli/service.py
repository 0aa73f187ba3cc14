"""Commands that run or prepare the service: ``migrate``, ``worker``, ``schema``."""

from __future__ import annotations

import asyncio
import json
import logging

from rich.markup import escape

from orchestrator.cli.app import ENV_BROKER, ENV_CLOUD, ENV_DATABASE, app, console, run_long_lived, settings


@app.command(epilog=ENV_DATABASE)
def migrate() -> None:
    """Apply the SQL migrations not applied yet (safe to run twice, and by two processes at once)."""
    from orchestrator.store import run_migrations

    applied = asyncio.run(run_migrations(settings().database_url))
    console.print(f"applied migrations: {escape(str(applied))}" if applied else "database is up to date")


@app.command(epilog=f"{ENV_DATABASE} {ENV_BROKER} {ENV_CLOUD}")
def worker() -> None:
    """Run intake, engine and event relay in one process until SIGINT/SIGTERM; run several at once.

    On SIGTERM it stops taking work, lets running workflows reach their next pause, hands the rest back
    to the other workers, then exits 0.
    """
    from orchestrator.worker import run_worker, stop_on_signals

    chosen = settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def run() -> None:
        stop = asyncio.Event()
        with stop_on_signals(stop):
            await run_worker(chosen, stop)

    run_long_lived(run())


@app.command()
def schema() -> None:
    """Print the JSON Schema of every command and of the event envelope."""
    from orchestrator.messages import json_schemas

    console.print_json(json.dumps(json_schemas()))
