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
from huaweicloudsdkcore.signer.algorithm import SigningAlgorithm


@pytest.fixture
def client_with(emulator: Any) -> Iterator[Any]:
    made: list[RecordingCbrClient] = []

    def build(
        access_key: str,
        secret_key: str,
        project_id: str,
        signing: SigningAlgorithm = SigningAlgorithm.HMAC_SHA256,
    ) -> RecordingCbrClient:
        # a private recorder: calls made here must not count towards the operation coverage
        client = RecordingCbrClient(
            emulator.base_url, access_key, secret_key, project_id, OperationRecorder(), "probe", signing
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


def test_the_sdks_sm3_signer_is_verified(client_with: Any) -> None:
    """``SDK-HMAC-SM3`` (``HttpConfig.signing_algorithm = HMAC_SM3``), with a body and a query string."""
    signing = SigningAlgorithm.HMAC_SM3
    client = client_with(TENANT_A.access_key, TENANT_A.secret_key, TENANT_A.project_id, signing)
    billing = {"consistent_level": "crash_consistent", "object_type": "disk", "protect_type": "backup"}
    billing["size"] = 10
    body = {"vault": {"name": "signed-with-sm3", "billing": billing, "resources": []}}
    vault = client.create_vault(cbr.CreateVaultRequest(body=body)).vault
    listed = client.list_vault(cbr.ListVaultRequest(name="signed-with-sm3", limit=5)).vaults
    assert [v.id for v in listed] == [vault.id]
    client.delete_vault(cbr.DeleteVaultRequest(vault_id=vault.id))


def test_an_sm3_signature_with_the_wrong_secret_is_401(client_with: Any) -> None:
    signing = SigningAlgorithm.HMAC_SM3
    client = client_with(TENANT_A.access_key, TENANT_A.secret_key + "x", TENANT_A.project_id, signing)
    expect_error(lambda: client.list_vault(cbr.ListVaultRequest()), 401, "APIGW.0301")


@pytest.mark.parametrize(
    ("signing", "name"),
    [
        (SigningAlgorithm.ECDSA_P256_SHA256, "SDK-ECDSA-P256-SHA256"),
        (SigningAlgorithm.SM2_SM3, "SDK-SM2-SM3"),
    ],
)
def test_the_asymmetric_signers_are_refused_by_name(client_with: Any, signing: Any, name: str) -> None:
    client = client_with(TENANT_A.access_key, TENANT_A.secret_key, TENANT_A.project_id, signing)
    error = expect_error(lambda: client.list_vault(cbr.ListVaultRequest()), 401, "APIGW.0301")
    assert f"{name} is not supported" in error.error_msg
