"""AK/SK authentication as the gateway in front of CBR enforces it, seen through the SDK."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import huaweicloudsdkcbr.v1.model as cbr
import pytest
from cbr_contract_harness import (
    TENANT_A,
    TENANT_B,
    TENANT_C,
    OperationRecorder,
    RecordingCbrClient,
    expect_error,
)


@pytest.fixture
def client_with(emulator: Any) -> Iterator[Any]:
    made: list[RecordingCbrClient] = []

    def build(access_key: str, secret_key: str, project_id: str) -> RecordingCbrClient:
        # a private recorder: calls made here must not count towards the operation coverage
        client = RecordingCbrClient(
            emulator.base_url, access_key, secret_key, project_id, OperationRecorder(), "probe"
        )
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()


def test_the_right_keys_are_accepted(client_with: Any) -> None:
    client = client_with(TENANT_A.access_key, TENANT_A.secret_key, TENANT_A.project_id)
    assert isinstance(client.list_vault(cbr.ListVaultRequest(limit=1)), cbr.ListVaultResponse)


def test_bad_secret_key_is_401(client_with: Any) -> None:
    client = client_with(TENANT_A.access_key, TENANT_A.secret_key + "x", TENANT_A.project_id)
    error = expect_error(lambda: client.list_vault(cbr.ListVaultRequest()), 401, "APIGW.0301")
    assert error.request_id
    body = {"vault": {"name": "never"}}
    expect_error(lambda: client.create_vault(cbr.CreateVaultRequest(body=body)), 401, "APIGW.0301")


def test_unknown_access_key_is_401(client_with: Any) -> None:
    client = client_with("CONTRACTUNKNOWNAK999", TENANT_A.secret_key, TENANT_A.project_id)
    expect_error(lambda: client.list_vault(cbr.ListVaultRequest()), 401, "APIGW.0301")


@pytest.mark.parametrize("other", [TENANT_B, TENANT_C], ids=["other-region", "same-region"])
def test_project_of_another_tenant_is_403(client_with: Any, other: Any) -> None:
    client = client_with(TENANT_A.access_key, TENANT_A.secret_key, other.project_id)
    error = expect_error(lambda: client.list_vault(cbr.ListVaultRequest()), 403)
    assert error.error_code != "403", "the answer carries an error_code body"
    expect_error(lambda: client.list_backups(cbr.ListBackupsRequest()), 403)


def test_stale_signature_date_is_401(client_with: Any) -> None:
    client = client_with(TENANT_A.access_key, TENANT_A.secret_key, TENANT_A.project_id)
    # the SDK signs with a preset X-Sdk-Date as it is; the gateway allows 15 minutes of skew
    client.sdk_client.preset_headers = {"X-Sdk-Date": "20200101T000000Z"}
    expect_error(lambda: client.list_vault(cbr.ListVaultRequest()), 401, "APIGW.0301")
    client.sdk_client.preset_headers = {}
    assert client.list_vault(cbr.ListVaultRequest(limit=1)).vaults is not None
