"""Fixtures of the contract suite: one emulator per session, three tenants, one SDK client per tenant.

Tenants:

* ``A``: the main project, in region 1;
* ``B``: another account's project in region 2 (cross-region replication target);
* ``C``: another account's project in region 1 (backup sharing needs the same region).
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import huaweicloudsdkcbr.v1.model as cbr
import pytest
from cbr_contract_harness import (
    SERVER,
    TENANT_A,
    TENANT_B,
    TENANT_C,
    OperationRecorder,
    Pool,
    RecordingCbrClient,
    Waiter,
    unique,
    vault_body,
)

from cbr_emulator.config import EmulatorConfig, Inventory, Progression, Tenant

COVERAGE_TEST = "test_contract_operation_coverage.py::test_suite_exercises_every_promised_operation"

# The SDK logs connection problems through a logger without handlers, which ends up on stderr.
for _name in ("HuaweiCloud-SDK-CbrClient", "HuaweiCloud-SDK-CbrAsyncClient", "HuaweiCloud-SDK-Client"):
    _logger = logging.getLogger(_name)
    _logger.addHandler(logging.NullHandler())
    _logger.setLevel(logging.CRITICAL + 1)
logging.getLogger("urllib3").setLevel(logging.WARNING)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The coverage test judges what the rest of the suite did, so it runs last."""
    last = [item for item in items if item.nodeid.endswith(COVERAGE_TEST)]
    if last:
        items[:] = [item for item in items if item not in last] + last


# --------------------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def emulator() -> Iterator[Any]:
    from cbr_emulator.server import EmulatorInThread

    config = EmulatorConfig(
        tenants=[TENANT_A, TENANT_B, TENANT_C],
        inventory=Inventory(servers=40, disks=16, data_disks_per_server=1),
        progression=Progression.instantly(),
    )
    with EmulatorInThread(config) as running:
        yield running


@pytest.fixture(scope="session")
def recorder() -> OperationRecorder:
    return OperationRecorder()


def _client(
    emulator: Any, recorder: OperationRecorder, tenant: Tenant, name: str
) -> Iterator[RecordingCbrClient]:
    client = RecordingCbrClient(
        emulator.base_url, tenant.access_key, tenant.secret_key, tenant.project_id, recorder, name
    )
    yield client
    client.close()


@pytest.fixture(scope="session")
def cbr_a(emulator: Any, recorder: OperationRecorder) -> Iterator[RecordingCbrClient]:
    yield from _client(emulator, recorder, TENANT_A, "A")


@pytest.fixture(scope="session")
def cbr_b(emulator: Any, recorder: OperationRecorder) -> Iterator[RecordingCbrClient]:
    yield from _client(emulator, recorder, TENANT_B, "B")


@pytest.fixture(scope="session")
def cbr_c(emulator: Any, recorder: OperationRecorder) -> Iterator[RecordingCbrClient]:
    yield from _client(emulator, recorder, TENANT_C, "C")


def advance_clock(base_url: str, seconds: float) -> None:
    """Move the emulator's clock forward through its admin API (the server runs on its own loop)."""
    request = urllib.request.Request(
        f"{base_url}/_emulator/clock/advance",
        data=json.dumps({"seconds": seconds}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 200, answer.status


@pytest.fixture(scope="session")
def waiter(emulator: Any) -> Waiter:
    # Progression is instant, so a task is done at the next look; the clock still moves a little
    # between looks (a few seconds, so signatures stay well inside the gateway's 15-minute window).
    return Waiter(lambda seconds: advance_clock(emulator.base_url, seconds), attempts=30, step_seconds=5)


# --------------------------------------------------------------------------------------------------
# Resources of a tenant, handed out once each so that tests never compete for one
# --------------------------------------------------------------------------------------------------


def _all_protectables(client: RecordingCbrClient, kind: str) -> list[Any]:
    found: list[Any] = []
    while True:
        page = client.list_protectable(
            cbr.ListProtectableRequest(protectable_type=kind, limit=50, offset=len(found))
        ).instances
        found += page
        if len(page) < 50:
            return found


def _pool(client: RecordingCbrClient) -> Pool:
    servers = _all_protectables(client, "server")
    disks = _all_protectables(client, "disk")
    attached = {
        child["id"] for server in servers for child in (server.children or []) if isinstance(child, dict)
    }
    free = [s for s in servers if s.protectable.vault is None]
    return Pool(
        servers=free[2:],  # the first two are left alone for the protectables tests
        disks=[d for d in disks if d.id not in attached and d.protectable.vault is None],
    )


@pytest.fixture(scope="session")
def pool_a(cbr_a: RecordingCbrClient) -> Pool:
    return _pool(cbr_a)


@pytest.fixture(scope="session")
def pool_c(cbr_c: RecordingCbrClient) -> Pool:
    return _pool(cbr_c)


# --------------------------------------------------------------------------------------------------
# Builders
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def new_vault() -> Callable[..., Any]:
    """``new_vault(client, resources, **kw)`` → the created ``VaultCreateResource``."""

    def create(client: RecordingCbrClient, resources: list[Any], **kwargs: Any) -> Any:
        name = kwargs.pop("name", None) or unique("contract-vault")
        answer = client.create_vault(cbr.CreateVaultRequest(body=vault_body(name, resources, **kwargs)))
        return answer.vault

    return create


@dataclass
class Backed:
    """A vault whose resources have been backed up once."""

    vault: Any
    checkpoint: Any
    backups: list[Any]  # one per resource, in the order of the resources


@pytest.fixture(scope="session")
def back_up(waiter: Waiter) -> Callable[..., list[Any]]:
    """``back_up(client, vault_id, resource_ids, name=...)`` → (checkpoint id, its available backups)."""

    def run(
        client: RecordingCbrClient, vault_id: str, resource_ids: list[str], name: str | None = None
    ) -> Any:
        answer = client.create_checkpoint(
            cbr.CreateCheckpointRequest(
                body=cbr.VaultBackupReq(
                    checkpoint=cbr.VaultBackup(
                        vault_id=vault_id,
                        parameters=cbr.CheckpointParam(
                            resources=resource_ids, name=name or unique("contract-backup"), incremental=False
                        ),
                    )
                )
            )
        )
        checkpoint_id = answer.checkpoint.id

        def done() -> list[Any] | None:
            backups = client.list_backups(cbr.ListBackupsRequest(checkpoint_id=checkpoint_id)).backups or []
            by_resource = {b.resource_id: b for b in backups}
            if set(by_resource) == set(resource_ids) and all(b.status == "available" for b in backups):
                return [by_resource[r] for r in resource_ids]
            return None

        backups = waiter.until(f"the backups of checkpoint {checkpoint_id}", done)
        return checkpoint_id, backups

    return run


@pytest.fixture(scope="session")
def server_vault_a(
    cbr_a: RecordingCbrClient, pool_a: Pool, new_vault: Callable[..., Any], back_up: Callable[..., Any]
) -> Backed:
    """A vault of tenant A with two servers, backed up once (shared by read-only tests)."""
    servers = [pool_a.server(), pool_a.server()]
    vault = new_vault(cbr_a, servers)
    checkpoint_id, backups = back_up(cbr_a, vault.id, [s.id for s in servers])
    assert all(b.resource_type == SERVER for b in backups)
    return Backed(vault=vault, checkpoint=checkpoint_id, backups=backups)
