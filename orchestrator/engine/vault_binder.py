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
import dataclasses
from collections.abc import Sequence
from typing import Protocol

from orchestrator.cbr.bodies import ResourceRef
from orchestrator.cbr.errors import CbrApiError

BinderKey = tuple[str, str, str]  # project, region, vault id
MAX_RESOURCES_PER_CALL = 255
Refused = list[tuple[str, CbrApiError]]  # resource id, why CBR refused to bind it


class ResourceAdder(Protocol):
    async def add_vault_resources(self, vault_id: str, resources: Sequence[ResourceRef]) -> list[str]: ...


@dataclasses.dataclass
class _Batch:
    client: ResourceAdder
    vault_id: str
    waiters: list[tuple[Sequence[ResourceRef], asyncio.Future[Refused]]] = dataclasses.field(
        default_factory=list
    )
    size: int = 0


class VaultBinder:
    def __init__(self, window: float = 0.003, max_resources: int = MAX_RESOURCES_PER_CALL) -> None:
        self._window = window
        self._max = max_resources
        self._open: dict[BinderKey, _Batch] = {}
        self._sending: set[asyncio.Task[None]] = set()

    async def add(self, client: ResourceAdder, key: BinderKey, resources: Sequence[ResourceRef]) -> Refused:
        """Bind ``resources`` to the vault ``key`` names; return those CBR refused, each with its error.
        Raises the CBR error that concerns the whole call (retry later, outcome unknown)."""
        if len(resources) >= self._max:
            return await _add_each_if_refused(client, key[2], resources)
        batch = self._open.get(key)
        if batch is None or batch.size + len(resources) > self._max:
            batch = self._open_batch(client, key)
        done: asyncio.Future[Refused] = asyncio.get_running_loop().create_future()
        batch.waiters.append((resources, done))
        batch.size += len(resources)
        return await done

    def _open_batch(self, client: ResourceAdder, key: BinderKey) -> _Batch:
        batch = _Batch(client, key[2])
        self._open[key] = batch
        asyncio.get_running_loop().call_later(self._window, self._send, key, batch)
        return batch

    def _send(self, key: BinderKey, batch: _Batch) -> None:
        if self._open.get(key) is batch:
            del self._open[key]
        task = asyncio.create_task(self._flush(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _flush(self, batch: _Batch) -> None:
        if len(batch.waiters) == 1:
            await _answer_alone(batch.client, batch.vault_id, *batch.waiters[0])
            return
        merged = list({ref.id: ref for refs, _ in batch.waiters for ref in refs}.values())
        try:
            await batch.client.add_vault_resources(batch.vault_id, merged)
        except CbrApiError as exc:
            if _whole_call(exc):  # concerns the call, not a resource: all share it
                _answer_all(batch, exc)
            else:
                alone = (_answer_alone(batch.client, batch.vault_id, *w) for w in batch.waiters)
                await asyncio.gather(*alone)
        except BaseException as exc:
            _answer_all(batch, exc)
            if not isinstance(exc, Exception):
                raise
        else:
            _answer_all(batch, [])


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


async def _answer_alone(
    client: ResourceAdder, vault_id: str, resources: Sequence[ResourceRef], done: asyncio.Future[Refused]
) -> None:
    try:
        refused = await _add_each_if_refused(client, vault_id, resources)
    except Exception as exc:
        _answer(done, exc)
    else:
        _answer(done, refused)


def _answer_all(batch: _Batch, outcome: Refused | BaseException) -> None:
    for _, done in batch.waiters:
        _answer(done, outcome if isinstance(outcome, BaseException) else list(outcome))


def _answer(done: asyncio.Future[Refused], outcome: Refused | BaseException) -> None:
    if done.done():  # the waiter was cancelled
        return
    if isinstance(outcome, BaseException):
        done.set_exception(outcome)
    else:
        done.set_result(outcome)
