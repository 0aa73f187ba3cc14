"""What this process last learned about vaults by name, kept for a few seconds.

A thousand backups into one vault would otherwise list the vaults a thousand times just to learn its id
and which resources it already holds. Entries come from the cloud's own answers (a vault found, created
or given resources) and expire after ``ttl`` seconds; a vault *not* found is never remembered, so a vault
created elsewhere is seen at once. A stale "resource is bound" can at worst make a checkpoint skip that
resource, which CBR reports and the workflow records as skipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

VaultKey = tuple[str, str, str]  # project, region, vault name


@dataclass
class _Entry:
    vault_id: str
    resource_ids: set[str]
    expires_at: float


class VaultDirectory:
    def __init__(self, ttl: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._by_name: dict[VaultKey, _Entry] = {}
        self._name_of: dict[tuple[str, str, str], VaultKey] = {}  # (project, region, vault id) -> key

    def find(self, project: str, region: str, name: str) -> tuple[str, tuple[str, ...]] | None:
        """The vault's id and bound resources, if learned less than ``ttl`` seconds ago."""
        entry = self._by_name.get((project, region, name))
        if entry is None or entry.expires_at <= self._clock():
            return None
        return entry.vault_id, tuple(entry.resource_ids)

    def learn(self, project: str, region: str, name: str, vault_id: str, resource_ids: Iterable[str]) -> None:
        if not self._ttl:
            return
        key = (project, region, name)
        self._forget_expired()
        self._by_name[key] = _Entry(vault_id, set(resource_ids), self._clock() + self._ttl)
        self._name_of[(project, region, vault_id)] = key

    def bound(self, project: str, region: str, vault_id: str, resource_ids: Iterable[str]) -> None:
        """The cloud accepted these resources into the vault (its expiry is left as it was)."""
        key = self._name_of.get((project, region, vault_id))
        entry = self._by_name.get(key) if key else None
        if entry is not None and entry.vault_id == vault_id:
            entry.resource_ids.update(resource_ids)

    def _forget_expired(self) -> None:
        now = self._clock()
        if len(self._by_name) < 1024:
            return
        for key in [k for k, e in self._by_name.items() if e.expires_at <= now]:
            entry = self._by_name.pop(key)
            self._name_of.pop((key[0], key[1], entry.vault_id), None)
