"""An emulator of its own for the domain-level contract tests, so that they touch no other test's world.

Organisation policies, migrations and batch updates act on a whole domain or project; on the shared
emulator they would change what the other tests count. Here one account (domain ``contract-domain-d``,
one AK/SK) has a project in each of the suite's two regions, and a second account (``E``) lives in
region 1. The clients record into the suite's recorder like any other.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from cbr_contract_harness import REGION_1, REGION_2, OperationRecorder, RecordingCbrClient

from cbr_emulator.config import EmulatorConfig, Inventory, Progression, Tenant

D_KEY, D_SECRET = "CONTRACTTENANTD00004", "contract-secret-key-of-tenant-d/0004"
TENANT_D1 = Tenant(
    access_key=D_KEY,
    secret_key=D_SECRET,
    project_id="d0d1d2d3d4d5d6d7d8d9dadbdcdddedf",
    region=REGION_1,
    project_name=REGION_1,
    domain_name="contract-domain-d",
)
TENANT_D2 = Tenant(
    access_key=D_KEY,
    secret_key=D_SECRET,
    project_id="d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2",
    region=REGION_2,
    project_name=REGION_2,
    domain_name="contract-domain-d",
)
TENANT_E = Tenant(
    access_key="CONTRACTTENANTE00005",
    secret_key="contract-secret-key-of-tenant-e/0005",
    project_id="e0e1e2e3e4e5e6e7e8e9eaebecedeeef",
    region=REGION_1,
    project_name=f"{REGION_1}_contract_e",
    domain_name="contract-domain-e",
)


@dataclass
class OwnDomain:
    base_url: str
    d1: RecordingCbrClient  # domain D, region 1
    d2: RecordingCbrClient  # domain D, region 2
    e: RecordingCbrClient  # domain E, region 1


@contextmanager
def own_domain(recorder: OperationRecorder) -> Iterator[OwnDomain]:
    from cbr_emulator.server import EmulatorInThread

    config = EmulatorConfig(
        tenants=[TENANT_D1, TENANT_D2, TENANT_E],
        inventory=Inventory(servers=12, disks=6, data_disks_per_server=1),
        progression=Progression.instantly(),
    )
    with EmulatorInThread(config) as running:
        clients = [
            RecordingCbrClient(running.base_url, t.access_key, t.secret_key, t.project_id, recorder, name)
            for t, name in ((TENANT_D1, "D1"), (TENANT_D2, "D2"), (TENANT_E, "E"))
        ]
        try:
            yield OwnDomain(running.base_url, *clients)
        finally:
            for client in clients:
                client.close()
