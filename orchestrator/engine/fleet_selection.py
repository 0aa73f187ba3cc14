"""Reading a fleet's selection from CBR: one page of protectables, with the vault each is bound to and
its size (GB, rounded up)."""

from __future__ import annotations

import math

from orchestrator.cbr.client import CbrClient
from orchestrator.crash_points import crash_point
from orchestrator.workflows.base import ListProtectables, ProtectablesPage


async def protectables_page(client: CbrClient, req: ListProtectables) -> ProtectablesPage:
    found = await client.list_protectables(req.protectable_type, limit=req.limit, marker=req.marker)
    if req.marker is not None:
        crash_point("fleet_page_read")
    items = tuple(
        (p.id, p.type or req.protectable_type, _bound_vault(p.protectable), _gb(p.size)) for p in found
    )
    return ProtectablesPage(items)


def _bound_vault(result: object) -> str | None:
    vault = getattr(result, "vault", None)
    return getattr(vault, "id", None) if vault is not None else None


def _gb(size: float | None) -> int | None:
    return None if size is None or size < 0 else math.ceil(size)
