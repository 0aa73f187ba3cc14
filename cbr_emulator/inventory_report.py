"""Read a running emulator's inventory (``GET /_emulator/inventory``) and draw it as tables: what
``cbr-emulator inventory`` and ``cbr-orchestrator emulator-inventory`` print."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

RETRY_PAUSE_SECONDS = 0.2


class InventoryUnavailable(Exception):
    """No emulator answered at the endpoint, or it refused the request; the message says which."""


async def fetch_inventory(
    endpoint: str,
    region: str | None,
    project_id: str | None,
    wait_seconds: float,
    start_with: str = "cbr-emulator --port PORT",
) -> dict[str, Any]:
    """The inventory, asking again while nothing listens at ``endpoint`` (an emulator may be starting)."""
    url = endpoint.rstrip("/") + "/_emulator/inventory"
    params = {key: value for key, value in (("region", region), ("project_id", project_id)) if value}
    loop = asyncio.get_running_loop()
    give_up_at = loop.time() + wait_seconds
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        while True:
            try:
                return await _get(session, url, params)
            except aiohttp.ClientConnectionError as exc:
                if loop.time() >= give_up_at:
                    raise InventoryUnavailable(
                        f"no emulator answers at {endpoint} ({type(exc).__name__}); start one with "
                        f"`{start_with}` and give its URL as --endpoint"
                    ) from None
            await asyncio.sleep(RETRY_PAUSE_SECONDS)


async def _get(session: aiohttp.ClientSession, url: str, params: dict[str, str]) -> dict[str, Any]:
    async with session.get(url, params=params) as response:
        try:
            body = await response.json(content_type=None)
        except ValueError:
            body = None
        if response.status == 200 and isinstance(body, dict) and isinstance(body.get("projects"), list):
            return body
        reason = body.get("error_msg") if isinstance(body, dict) else None
        raise InventoryUnavailable(
            f"{url} answered {response.status}: {reason or 'not an emulator inventory'}"
        )


def inventory_tables(inventory: dict[str, Any]) -> RenderableType:
    """One table per project: each server then its disks, then the standalone disks."""
    return Group(*(_project_table(project) for project in inventory["projects"]))


def _project_table(project: dict[str, Any]) -> Table:
    servers, disks = project["servers"], project["disks"]
    table = Table(
        title=f"{project['region']} / {project['project_id']}",
        caption=f"{len(servers)} servers, {len(disks)} standalone disks",
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("name")
    table.add_column("id", no_wrap=True)
    table.add_column("GB", justify="right")
    table.add_column("vault")
    table.add_column("latest backup", no_wrap=True)
    for server in servers:
        table.add_row(*_row(server["name"], server))
        for disk in server["disks"]:
            table.add_row(*_row(f"  {disk['device']} {disk['name']}", disk), style="dim")
    for disk in disks:
        table.add_row(*_row(disk["name"], disk))
    return table


def _row(name: str, resource: dict[str, Any]) -> tuple[Text, ...]:
    vault, backup = resource.get("vault"), resource.get("latest_backup")
    return (
        Text(name),
        Text(resource["id"]),
        Text(str(resource["size_gb"])),
        Text(vault["name"] if vault else ""),
        Text(backup["id"] if backup else ""),
    )
