"""``doctor``: is this deployment able to work? One line per check, ok or FAIL, with a hint per failure."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from orchestrator.cli.app import ENV_BROKER, ENV_CLOUD, ENV_DATABASE, app, console, settings


@app.command(epilog=f"{ENV_DATABASE} {ENV_BROKER} {ENV_CLOUD}")
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Check the database (reachable, migrated), the broker (reachable, queues and exchanges declared, no dead
    letters), each project's credentials (one cheap CBR call), the clock against CBR's and the shared rate
    limits. Exit 0 when every check is ok, 1 otherwise."""
    from orchestrator.cli.doctor_checks import run_checks

    checks = asyncio.run(run_checks(settings()))
    healthy = all(check.ok for check in checks)
    if as_json:
        console.print_json(json.dumps({"ok": healthy, "checks": [asdict(check) for check in checks]}))
    else:
        table = Table("check", "status", "detail", "hint")
        for check in checks:
            status = "ok" if check.ok else "FAIL"
            table.add_row(escape(check.name), status, escape(check.detail), escape(check.hint))
        console.print(table)
    if not healthy:
        raise typer.Exit(1)
