"""Commands that run or prepare the service: ``migrate``, ``worker``, ``schema``."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from rich.markup import escape

from orchestrator.cli.app import (
    ENV_BROKER,
    ENV_CLOUD,
    ENV_DATABASE,
    app,
    console,
    errors,
    settings,
)
from orchestrator.cli.startup import STARTUP_EXIT_CODE


@app.command(epilog=ENV_DATABASE)
def migrate(
    create_database: Annotated[
        bool,
        typer.Option(
            "--create-database",
            help="First create the database CBR_ORCH_DATABASE_URL names when it does not exist "
            "(through the server's 'postgres' database, with the same credentials).",
        ),
    ] = False,
) -> None:
    """Apply the SQL migrations not applied yet (safe to run twice, and by two processes at once)."""
    from orchestrator.cli.startup import SchemaNeed, preflight
    from orchestrator.cli.unreachable import services_explained
    from orchestrator.store import run_migrations

    chosen = settings()
    preflight(chosen, schema=SchemaNeed.NOT_AHEAD, broker=False, database_may_be_missing=create_database)
    with services_explained(STARTUP_EXIT_CODE):
        if create_database:
            _create_database(chosen.database_url, chosen.database_timeout_seconds)
        applied = asyncio.run(run_migrations(chosen.database_url))
    console.print(f"applied migrations: {escape(str(applied))}" if applied else "database is up to date")


def _create_database(dsn: str, timeout: float) -> None:
    import asyncpg

    from orchestrator.store.database import NoDatabaseNamed, create_database, database_name

    try:
        name = database_name(dsn)
        created = asyncio.run(create_database(dsn, timeout))
    except NoDatabaseNamed as exc:
        errors.print(f"CBR_ORCH_DATABASE_URL: {escape(str(exc))}")
        raise typer.Exit(2) from None
    except asyncpg.InsufficientPrivilegeError as exc:
        errors.print(
            f"cannot create the database CBR_ORCH_DATABASE_URL names: {escape(str(exc))} "
            "(its role needs CREATEDB, or create the database beforehand)"
        )
        raise typer.Exit(1) from None
    console.print(f"created database {escape(name)}" if created else f"database {escape(name)} exists")


@app.command(epilog=f"{ENV_DATABASE} {ENV_BROKER} {ENV_CLOUD}")
def worker() -> None:
    """Run intake, engine and event relay in one process until SIGINT/SIGTERM; run several at once.

    On SIGTERM it stops taking work, lets running workflows reach their next pause, hands the rest back
    to the other workers, then exits 0.
    """
    from orchestrator.cli.serving import serve
    from orchestrator.worker import run_worker

    serve("worker", run_worker)


@app.command()
def schema() -> None:
    """Print the JSON Schema of every command and of the event envelope."""
    from orchestrator.messages import json_schemas

    console.print_json(json.dumps(json_schemas()))
