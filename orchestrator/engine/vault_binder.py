"""Binds resources to vaults, merging the binds many workflows ask of one vault at once into one call.

A thousand backups into one vault each ask CBR to add their resource; adds for the same (project,
region, vault) arriving within ``window`` seconds go out as one ``add_vault_resource`` call (CBR takes a
list). When a call is refused for a reason that may concern one resource only (bound elsewhere,
unknown, wrong type: any answer but "retry later" or an unknown outcome), its resources are sent again
one by one, so each workflow learns each of its resources' own outcome ("already done" included):
:meth:`VaultBinder.add` returns the refused resources with their errors and raises only errors that
concern the whole call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from orchestrator.batching import Batcher
from orchestrator.cbr.bodies import ResourceRef
from orchestrator.cbr.errors import CbrApiError

BinderKey = tuple[str, str, str]  # project, region, vault id
MAX_RESOURCES_PER_CALL = 255
Refused = list[tuple[str, CbrApiError]]  # resource id, why CBR refused to bind it


class ResourceAdder(Protocol):
    async def add_vault_resources(self, vault_id: str, resources: Sequence[ResourceRef]) -> list[str]: ...


Ask = tuple[ResourceAdder, Sequence[ResourceRef]]  # a merged call goes through its first asker's client


class VaultBinder:
    def __init__(self, window: float = 0.003, max_resources: int = MAX_RESOURCES_PER_CALL) -> None:
        self._max = max_resources
        self._batcher: Batcher[BinderKey, Ask, Refused] = Batcher(
            self._bind, window=window, max_size=max_resources, size_of=lambda ask: len(ask[1])
        )

    async def add(self, client: ResourceAdder, key: BinderKey, resources: Sequence[ResourceRef]) -> Refused:
        """Bind ``resources`` to the vault ``key`` names; return those CBR refused, each with its error.
        Raises the CBR error that concerns the whole call (retry later, outcome unknown)."""
        if len(resources) >= self._max:
            return await _add_each_if_refused(client, key[2], resources)
        return await self._batcher.ask(key, (client, resources))

    async def _bind(self, key: BinderKey, asks: list[Ask]) -> list[Refused | Exception]:
        client, vault_id = asks[0][0], key[2]
        if len(asks) == 1:
            return [await _outcome(client, vault_id, asks[0][1])]
        merged = list({ref.id: ref for _, refs in asks for ref in refs}.values())
        try:
            await client.add_vault_resources(vault_id, merged)
        except CbrApiError as exc:
            if _whole_call(exc):  # concerns the call, not a resource: all share it
                raise
            return list(await asyncio.gather(*(_outcome(client, vault_id, refs) for _, refs in asks)))
        return [[] for _ in asks]


def _whole_call(exc: CbrApiError) -> bool:
    return exc.retry_later or exc.outcome_unknown


async def _add_each_if_refused(
    client: ResourceAdder, vault_id: str, resources: Sequence[ResourceRef]
) -> Refused:
    """Bind ``resources`` in one call; refused for one of them, bind each alone to learn which."""
    try:
        await client.add_vault_resources(vault_id, resources)
    except CbrApiError as exc:
        if _whole_call(exc):
            raise
        if len(resources) == 1:
            return [(resources[0].id, exc)]
        refused: Refused = []
        for ref in resources:  # one at a time: CBR answers for the whole list
            refused += await _add_each_if_refused(client, vault_id, [ref])
        return refused
    return []


async def _outcome(
    client: ResourceAdder, vault_id: str, resources: Sequence[ResourceRef]
) -> Refused | Exception:
    try:
        return await _add_each_if_refused(client, vault_id, resources)
    except Exception as exc:
        return exc
