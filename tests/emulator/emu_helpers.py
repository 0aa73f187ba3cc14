"""Building emulators on a hand-driven clock and calling them like the HTTP layer does."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pytest

from cbr_emulator.clock import Clock
from cbr_emulator.config import EmulatorConfig, Inventory, Progression, Tenant
from cbr_emulator.errors import CbrError
from cbr_emulator.operation import OperationRequest, OperationResponse
from cbr_emulator.service import Emulator

START = datetime(2025, 1, 6, 0, 0, tzinfo=UTC)  # a Monday, midnight UTC
HOME = Tenant(access_key="AK000000000000000001", secret_key="s1", project_id="a" * 32, region="eu-west-101")
AWAY = Tenant(
    access_key="AK000000000000000002", secret_key="s2", project_id="b" * 32, region="ap-southeast-1"
)
NEIGHBOUR = Tenant(
    access_key="AK000000000000000003", secret_key="s3", project_id="c" * 32, region="eu-west-101"
)
SLOW = Progression(base_seconds=10, gb_per_second=1, waiting_seconds=5)
BUILT: list[Emulator] = []  # every emulator a test made, checked for broken timers afterwards


def build(
    progression: Progression = SLOW,
    tenants: Iterable[Tenant] = (HOME, AWAY, NEIGHBOUR),
    servers: int = 6,
    disks: int = 4,
    data_disks: int = 1,
    backup_capacity: int | None = None,
) -> Emulator:
    config = EmulatorConfig(
        tenants=list(tenants),
        inventory=Inventory(servers=servers, disks=disks, data_disks_per_server=data_disks, seed=7),
        progression=progression,
        backup_capacity=backup_capacity,
    )
    emulator = Emulator(config, Clock(manual=True, start=START))
    BUILT.append(emulator)
    return emulator


class Api:
    """One project's view of an emulator."""

    def __init__(self, emulator: Emulator, tenant: Tenant = HOME) -> None:
        self.emulator = emulator
        self.tenant = tenant

    @property
    def state(self) -> Any:
        return self.emulator.world.project(self.tenant.region, self.tenant.project_id)

    def send(
        self,
        operation: str,
        path: dict[str, str] | None = None,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
    ) -> OperationResponse:
        request = OperationRequest(
            self.tenant.region, self.tenant.project_id, operation, dict(path or {}), list(query or []), body
        )
        return self.emulator.handle(request)

    def ok(self, operation: str, **kwargs: Any) -> Any:
        response = self.send(operation, **kwargs)
        assert response.status in (200, 202, 204), response
        return response.body

    def refused(self, operation: str, code: str, status: int | None = None, **kwargs: Any) -> CbrError:
        with pytest.raises(CbrError) as caught:
            self.send(operation, **kwargs)
        assert caught.value.code == f"BackupService.{code}", caught.value
        if status is not None:
            assert caught.value.status == status
        return caught.value

    # --- shortcuts -------------------------------------------------------------------------------

    def servers(self) -> list[Any]:
        return list(self.state.inventory.servers.values())

    def standalone_disks(self) -> list[Any]:
        return [d for d in self.state.inventory.disks.values() if d.server_id is None]

    def vault(
        self,
        object_type: str = "server",
        protect_type: str = "backup",
        resources: list[Any] | None = None,
        size: int = 1000,
        name: str = "vault-1",
        **extra: Any,
    ) -> dict[str, Any]:
        kind = "OS::Nova::Server" if object_type == "server" else "OS::Cinder::Volume"
        body = {
            "vault": {
                "name": name,
                "billing": {
                    "object_type": object_type,
                    "protect_type": protect_type,
                    "consistent_level": "crash_consistent",
                    "size": size,
                },
                "resources": [{"id": r.id, "type": kind} for r in resources or []],
                **extra,
            }
        }
        vault: dict[str, Any] = self.ok("create_vault", body=body)["vault"]
        return vault

    def backup_run(
        self, vault_id: str, resources: list[str] | None = None, **parameters: Any
    ) -> dict[str, Any]:
        params: dict[str, Any] = dict(parameters)
        if resources is not None:
            params["resources"] = resources
        body = {"checkpoint": {"vault_id": vault_id, "parameters": params}}
        checkpoint: dict[str, Any] = self.ok("create_checkpoint", body=body)["checkpoint"]
        return checkpoint

    def backups(self, **filters: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.ok("list_backups", query=list(filters.items()))["backups"]
        return found

    def backup(self, backup_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.ok("show_backup", path={"backup_id": backup_id})["backup"]
        return found

    def logs(self, **filters: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.ok("list_op_logs", query=list(filters.items()))["operation_logs"]
        return found

    def advance(self, seconds: float) -> None:
        self.emulator.clock.advance(seconds)
        self.emulator.tick()


def settle(api: Api, seconds: float = 100_000) -> None:
    """Let every running task finish."""
    api.advance(seconds)
