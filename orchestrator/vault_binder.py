"""Binds resources to vaults, merging the binds many workflows ask of one vault at once into one call.

A thousand backups into one vault each ask CBR to add their resource; adds for the same (project,
region, vault) arriving within ``window`` seconds go out as one ``add_vault_resource`` call (CBR takes a
list). When the merged call is refused for a reason that may concern one resource only (bound
elsewhere, unknown, wrong type: any answer but "retry later"), each workflow's resources are sent
again on their own, so each workflow learns its own outcome ("already done" included).
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


class ResourceAdder(Protocol):
    async def add_vault_resources(self, vault_id: str, resources: Sequence[ResourceRef]) -> list[str]: ...


@dataclasses.dataclass
class _Batch:
    client: ResourceAdder
    vault_id: str
    waiters: list[tuple[Sequence[ResourceRef], asyncio.Future[None]]] = dataclasses.field(
        default_factory=list
    )
    size: int = 0


class VaultBinder:
    def __init__(self, window: float = 0.003, max_resources: int = MAX_RESOURCES_PER_CALL) -> None:
        self._window = window
        self._max = max_resources
        self._open: dict[BinderKey, _Batch] = {}
        self._sending: set[asyncio.Task[None]] = set()

    async def add(self, client: ResourceAdder, key: BinderKey, resources: Sequence[ResourceRef]) -> None:
        """Bind ``resources`` to the vault ``key`` names; raises the CBR error that concerns them."""
        if len(resources) >= self._max:
            await client.add_vault_resources(key[2], resources)
            return
        batch = self._open.get(key)
        if batch is None or batch.size + len(resources) > self._max:
            batch = self._open_batch(client, key)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        batch.waiters.append((resources, done))
        batch.size += len(resources)
        await done

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
            if exc.retry_later or exc.outcome_unknown:  # concerns the call, not a resource: all share it
                _answer_all(batch, exc)
            else:
                alone = (_answer_alone(batch.client, batch.vault_id, *w) for w in batch.waiters)
                await asyncio.gather(*alone)
        except BaseException as exc:
            _answer_all(batch, exc)
            if not isinstance(exc, Exception):
                raise
        else:
            _answer_all(batch, None)


async def _answer_alone(
    client: ResourceAdder, vault_id: str, resources: Sequence[ResourceRef], done: asyncio.Future[None]
) -> None:
    try:
        await client.add_vault_resources(vault_id, resources)
    except Exception as exc:
        _answer(done, exc)
    else:
        _answer(done, None)


def _answer_all(batch: _Batch, error: BaseException | None) -> None:
    for _, done in batch.waiters:
        _answer(done, error)


def _answer(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():  # the waiter was cancelled
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
