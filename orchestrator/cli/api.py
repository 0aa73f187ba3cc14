"""``api``: the HTTP API server; ``api-key create|list|revoke``: the keys that call it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from orchestrator.cli.app import (
    ENV_BROKER,
    ENV_DATABASE,
    app,
    console,
    errors,
    settings,
)

if TYPE_CHECKING:
    from orchestrator.store import Store

T = TypeVar("T")
API_ENV = "CBR_ORCH_API__HOST, CBR_ORCH_API__PORT, CBR_ORCH_API__TRIGGERS_FILE, CBR_ORCH_API__* (API tuning)."
keys_app = typer.Typer(help="Create, list and revoke the API's keys.", no_args_is_help=True)
app.add_typer(keys_app, name="api-key")


@app.command(epilog=f"{ENV_DATABASE} {ENV_BROKER} {API_ENV}")
def api() -> None:
    """Serve the HTTP API until SIGINT/SIGTERM (SIGHUP reloads the triggers file); run several behind a load
    balancer (state: PostgreSQL)."""
    from orchestrator.api.app import run_api
    from orchestrator.api.triggers import TriggerError
    from orchestrator.cli.serving import serve

    serve("api", run_api, refusals=[(TriggerError, "triggers: ")])  # the file is the operator's to fix


@keys_app.command("create", epilog=ENV_DATABASE)
def create_key(
    name: Annotated[str, typer.Option("--name", help="Who or what uses the key, e.g. 'ci-deploy'.")],
    scope: Annotated[
        list[str],
        typer.Option("--scope", help="backup, restore, replicate, read or admin; repeat for several."),
    ],
    project: Annotated[
        list[str] | None,
        typer.Option("--project", help="A project id the key may touch; repeat for several."),
    ] = None,
    all_projects: Annotated[
        bool, typer.Option("--all-projects", help="The key may touch every project.")
    ] = False,
) -> None:
    """Create a key and print it once: only a hash of its secret is kept."""
    from orchestrator.api.keys import SCOPES, new_key
    from orchestrator.store.api_keys import NewApiKey

    unknown = sorted(set(scope) - set(SCOPES))
    if unknown or not scope:
        errors.print(f"--scope: give one or more of {', '.join(SCOPES)} (not {escape(', '.join(unknown))})")
        raise typer.Exit(2)
    if bool(project) == all_projects:
        errors.print("give --project (one or more) or --all-projects")
        raise typer.Exit(2)
    key = new_key()
    record = NewApiKey(key.key_id, name, key.secret_hash, tuple(project or ()), tuple(dict.fromkeys(scope)))
    asyncio.run(_with_store(lambda store: store.api_keys.create(record)))
    console.print(f"created key {key.key_id} ({escape(name)}); it is shown once:")
    console.print(key.presented, markup=False, highlight=False)


@keys_app.command("list", epilog=ENV_DATABASE)
def list_keys() -> None:
    """The keys, without their secrets."""
    found = asyncio.run(_with_store(lambda store: store.api_keys.all()))
    table = Table("key id", "name", "projects", "scopes", "created", "revoked")
    for k in found:
        table.add_row(
            k.key_id,
            escape(k.name),
            escape(", ".join(k.projects) or "all"),
            ", ".join(k.scopes),
            k.created_at.isoformat(timespec="seconds"),
            k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else "",
        )
    console.print(table)


@keys_app.command("revoke", epilog=ENV_DATABASE)
def revoke_key(key_id: Annotated[str, typer.Argument(help="The key id (the part after cbro_).")]) -> None:
    """Revoke a key: every API process refuses it within seconds."""
    revoked = asyncio.run(_with_store(lambda store: store.api_keys.revoke(key_id)))
    if not revoked:
        errors.print(f"no key {escape(key_id)} to revoke (unknown, or revoked before)")
        raise typer.Exit(1)
    console.print(f"revoked key {escape(key_id)}")


async def _with_store(use: Callable[[Store], Awaitable[T]]) -> T:
    from orchestrator.store import Store

    store = await Store.connect(settings().database_url)
    try:
        return await use(store)
    finally:
        await store.close()
