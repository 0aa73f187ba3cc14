"""Packing a fleet's resources as its selection is read, page by page (selection by protectables).

The same rules as :func:`~orchestrator.workflows.fleet_packing.plan_auto`, applied as resources arrive:
a resource bound to a vault goes into a child of that vault; the others fill vaults made for the fleet, one
open vault per project, region and type, closed when the next resource would make it hold more than whole
children allow or more than ``size_gb`` GB. A child is handed out as soon as it is full (``child_size``
resources) or its vault is closed; what is left is handed out when the selection ends (``flush``). An
existing vault's first child does not wait to be full: it takes what the page held (``end_page``), so
that its checkpoint starts at once. Fed the whole selection at once, it makes the children ``plan_auto``
makes.

A vault made for the fleet that can hold more than one child marks its children ``shares_new_vault`` from
the first one on (its later children are not known yet): they then run one at a time, which changes
nothing for a vault that ends up with only one.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.cbr.limits import VAULT_MAX_GB
from orchestrator.messages import AutoVaults, ResourceResult
from orchestrator.workflows.fleet_packing import (
    OBJECT_TYPES,
    ChildPlan,
    Target,
    VaultChoice,
    new_vault_holds,
    too_large,
)


class OpenVault(BaseModel):
    """The vault made for the fleet that a group of resources is filling now."""

    model_config = ConfigDict(extra="forbid")

    number: int  # in its group's vault names, from 1
    resources: int = 0
    gb: int = 0
    size_gb: int = 0  # what it is created with: the fleet's size, or its one larger resource's


class Stream(BaseModel):
    """What selection has packed and not handed out yet; kept in the fleet's state between pages."""

    model_config = ConfigDict(extra="forbid")

    pending: dict[str, list[Target]] = Field(default_factory=dict)  # group → resources not in a child
    open_vaults: dict[str, OpenVault] = Field(default_factory=dict)  # group of new vaults → its open one
    started: list[str] = Field(default_factory=list)  # existing vaults with a child already


class Packer:
    """Packs into a :class:`Stream` (changed in place) the resources of one fleet."""

    def __init__(self, stream: Stream, tag: str, auto: AutoVaults, child_size: int) -> None:
        self.stream, self.tag, self.auto, self.child_size = stream, tag, auto, child_size
        self.children: list[ChildPlan] = []
        self.unplaced: list[ResourceResult] = []

    def take(self, targets: Iterable[Target]) -> None:
        for t in targets:
            if t.bound_vault:
                self._add(_bound_key(t), t)
            elif t.gb > VAULT_MAX_GB:
                self.unplaced.append(too_large(t))
            else:
                self._add_to_new(_new_key(t), t)

    def end_page(self) -> None:
        """A page was read: an existing vault seen for the first time gets its first batch now (how many
        more of its resources later pages hold is not known)."""
        for key in sorted(self.stream.pending):
            if key.startswith("bound|") and key not in self.stream.started:
                self._hand_out(key)

    def flush(self) -> None:
        """The selection ended: every resource still pending goes into a child."""
        for key in sorted(self.stream.pending):
            self._hand_out(key)
        self.stream.open_vaults = {}

    def _add(self, key: str, t: Target) -> None:
        members = self.stream.pending.setdefault(key, [])
        members.append(t)
        if len(members) >= self.child_size:
            self._hand_out(key)

    def _add_to_new(self, key: str, t: Target) -> None:
        vault = self.stream.open_vaults.get(key)
        if vault is not None and vault.resources and self._closes(vault, t):
            self._hand_out(key)
            vault = OpenVault(number=vault.number + 1)
        vault = vault or OpenVault(number=1)
        if not vault.resources:
            vault.size_gb = max(self.auto.size_gb, t.gb)
        vault.resources, vault.gb = vault.resources + 1, vault.gb + t.gb
        self.stream.open_vaults[key] = vault
        self._add(key, t)

    def _closes(self, vault: OpenVault, t: Target) -> bool:
        return vault.resources == new_vault_holds(self.child_size) or vault.gb + t.gb > self.auto.size_gb

    def _hand_out(self, key: str) -> None:
        members = self.stream.pending.pop(key, [])
        if not members:
            return
        first = members[0]
        if first.bound_vault:
            choice, shared = VaultChoice(vault_id=first.bound_vault), False
            if key not in self.stream.started:
                self.stream.started.append(key)
        else:
            vault = self.stream.open_vaults[key]
            object_type = OBJECT_TYPES.get(first.resource_type, "server")
            name = f"{self.auto.name_prefix}-{self.tag}-{object_type}-{vault.number:03d}"
            choice = VaultChoice(name=name, object_type=object_type, size_gb=vault.size_gb)
            shared = new_vault_holds(self.child_size) > self.child_size
        self.children.append(ChildPlan(first.project_id, first.region, choice, tuple(members), shared))


def _bound_key(t: Target) -> str:
    return f"bound|{t.project_id}|{t.region}|{t.bound_vault}"


def _new_key(t: Target) -> str:
    return f"new|{t.project_id}|{t.region}|{OBJECT_TYPES.get(t.resource_type, 'server')}"
