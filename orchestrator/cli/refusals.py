"""``refusals``: the commands intake refused, newest first (what the dead-letter queue holds, without the
bodies); and the lines ``status`` adds for a refused command id."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer

from orchestrator.cli.app import ENV_DATABASE, app, console, settings

if TYPE_CHECKING:
    from orchestrator.store.refusals import Refusal


@app.command(epilog=ENV_DATABASE)
def refusals(
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many refusals to list.")] = 50,
) -> None:
    """List the commands refused at intake (malformed, too large, invalid, no credentials for their project,
    a command id already naming another command), newest first, each with its reason. Their messages are
    in the dead-letter queue; `status COMMAND_ID` shows a command's refusals."""
    from orchestrator.cli.views.problems import refusals_table

    console.print(refusals_table(asyncio.run(_recent(settings().database_url, limit))))


async def _recent(dsn: str, limit: int) -> list[Refusal]:
    from orchestrator.store import Store

    store = await Store.connect(dsn, max_size=1)
    try:
        return await store.refusals.recent(limit)
    finally:
        await store.close()


def show_refusals_of(dsn: str, ref: str) -> bool:
    """Print the refusals of the command (or message) id ``ref``; whether there were any."""
    from orchestrator.cli.views.problems import refusal_lines

    found = asyncio.run(_refusals_of(dsn, ref))
    if found:
        console.print(refusal_lines(found))
    return bool(found)


async def _refusals_of(dsn: str, ref: str) -> list[Refusal]:
    from orchestrator.store import Store

    store = await Store.connect(dsn, max_size=1)
    try:
        return await store.refusals.of(ref)
    finally:
        await store.close()
