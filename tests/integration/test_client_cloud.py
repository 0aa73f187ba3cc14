"""A smoke tour of the real cloud (Huawei Cloud or Open Telekom Cloud), read-only but for one tiny vault.

Runs only when ``CBR_TEST_AK``, ``CBR_TEST_SK``, ``CBR_TEST_PROJECT_ID`` and ``CBR_TEST_REGION`` are set.
Optional: ``CBR_TEST_CBR_PATTERN`` / ``CBR_TEST_IAM_PATTERN`` for another cloud
(``https://cbr.{region}.otc.t-systems.com``), ``CBR_TEST_SECURITY_TOKEN`` for temporary credentials.
The vault it creates is empty, pay-per-use, 10 GB, and deleted again in the same test.
"""

import os
import uuid
from collections.abc import AsyncIterator

import pytest

from orchestrator.cbr.auth import AkSkAuth
from orchestrator.cbr.bodies import BillingCreate, VaultCreate
from orchestrator.cbr.client import CbrClient
from orchestrator.cbr.endpoints import CBR_PATTERN, IAM_PATTERN, Endpoints
from orchestrator.cbr.errors import CbrApiError, ErrorKind
from orchestrator.cbr.query import BackupFilter, OperationLogFilter, VaultFilter
from orchestrator.cbr.signing import Credentials

REQUIRED = ("CBR_TEST_AK", "CBR_TEST_SK", "CBR_TEST_PROJECT_ID", "CBR_TEST_REGION")
MISSING = [name for name in REQUIRED if not os.environ.get(name)]

pytestmark = [
    pytest.mark.cloud,
    pytest.mark.skipif(bool(MISSING), reason=f"real-cloud smoke test: set {', '.join(MISSING)} to run it"),
]


@pytest.fixture
async def cloud_client() -> AsyncIterator[CbrClient]:
    credentials = Credentials(
        os.environ["CBR_TEST_AK"],
        os.environ["CBR_TEST_SK"],
        os.environ.get("CBR_TEST_SECURITY_TOKEN") or None,
    )
    endpoints = Endpoints(
        cbr_pattern=os.environ.get("CBR_TEST_CBR_PATTERN", CBR_PATTERN),
        iam_pattern=os.environ.get("CBR_TEST_IAM_PATTERN", IAM_PATTERN),
    )
    async with CbrClient(
        region=os.environ["CBR_TEST_REGION"],
        project_id=os.environ["CBR_TEST_PROJECT_ID"],
        auth=AkSkAuth(credentials),
        endpoints=endpoints,
        timeout=60.0,
    ) as client:
        yield client


async def test_read_only_tour(cloud_client: CbrClient) -> None:
    vaults = await cloud_client.list_vaults(limit=5)
    assert vaults.count is not None
    assert len(vaults.vaults) <= 5
    backups = await cloud_client.list_backups(BackupFilter(sort="created_at:desc"), limit=5)
    assert len(backups.backups) <= 5
    if backups.backups:
        shown = await cloud_client.show_backup(backups.backups[0].id)
        assert shown.id == backups.backups[0].id
    logs = await cloud_client.list_operation_logs(OperationLogFilter(operation_type="backup"), limit=5)
    assert len(logs.operation_logs) <= 5
    await cloud_client.list_policies()
    await cloud_client.list_protectables("server", limit=5)
    await cloud_client.show_replication_capabilities()
    await cloud_client.show_storage_usage(limit=5)
    await cloud_client.show_project_tags()


async def test_unknown_vault_is_terminal_not_found(cloud_client: CbrClient) -> None:
    with pytest.raises(CbrApiError) as caught:
        await cloud_client.show_vault(str(uuid.uuid4()))
    assert caught.value.status == 404
    assert caught.value.kind is ErrorKind.TERMINAL
    assert caught.value.request_id


async def test_create_and_delete_a_tiny_vault(cloud_client: CbrClient) -> None:
    name = f"cbr-orchestrator-smoke-{uuid.uuid4().hex[:8]}"
    billing = BillingCreate(object_type="server", protect_type="backup", size=10, charging_mode="post_paid")
    vault = await cloud_client.create_vault(
        VaultCreate(name=name, billing=billing, description="client smoke test")
    )
    try:
        assert (await cloud_client.show_vault(vault.id)).name == name
        await cloud_client.create_vault_tag(vault.id, "purpose", "smoke-test")
        tags = await cloud_client.show_vault_tags(vault.id)
        assert ("purpose", "smoke-test") in [(tag.key, tag.value) for tag in tags.tags]
        listed = await cloud_client.list_vaults(VaultFilter(name=name))
        assert [found.id for found in listed.vaults] == [vault.id]
    finally:
        await cloud_client.delete_vault(vault.id)
