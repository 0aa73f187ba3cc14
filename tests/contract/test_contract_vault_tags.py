"""Vault tags: create (and overwrite), batch create/delete, delete one, show per vault and per project."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import huaweicloudsdkcbr.v1.model as cbr
from cbr_contract_harness import RecordingCbrClient, expect_error, unique

UNKNOWN_ID = "3c3c3c3c-4d4d-4e5e-8f6f-707070707070"


def _tags(client: RecordingCbrClient, vault_id: str) -> dict[str, str]:
    answer = client.show_vault_tag(cbr.ShowVaultTagRequest(vault_id=vault_id))
    pairs = [(t.key, t.value) for t in answer.tags]
    assert len(pairs) == len(dict(pairs)), f"a key appears twice: {pairs}"
    return dict(pairs)


def _create_tag(client: RecordingCbrClient, vault_id: str, key: str, value: str) -> Any:
    return client.create_vault_tags(
        cbr.CreateVaultTagsRequest(
            vault_id=vault_id, body=cbr.VaultTagsCreateReq(tag=cbr.TagCreate(key=key, value=value))
        )
    )


def _batch(client: RecordingCbrClient, vault_id: str, action: str, tags: list[tuple[str, str | None]]) -> Any:
    body = cbr.BulkCreateAndDeleteVaultTagsReq(
        action=action, tags=[cbr.BulkCreateAndDeleteTags(key=k, value=v) for k, v in tags]
    )
    return client.batch_create_and_delete_vault_tags(
        cbr.BatchCreateAndDeleteVaultTagsRequest(vault_id=vault_id, body=body)
    )


def test_create_vault_tags_adds_and_overwrites(
    cbr_a: RecordingCbrClient, new_vault: Callable[..., Any]
) -> None:
    vault = new_vault(cbr_a, [], tags=[cbr.Tag(key="origin", value="create_vault")])
    assert _tags(cbr_a, vault.id) == {"origin": "create_vault"}

    answer = _create_tag(cbr_a, vault.id, "owner", "alice")
    assert isinstance(answer, cbr.CreateVaultTagsResponse)
    assert _tags(cbr_a, vault.id) == {"origin": "create_vault", "owner": "alice"}

    _create_tag(cbr_a, vault.id, "owner", "bob")
    assert _tags(cbr_a, vault.id) == {"origin": "create_vault", "owner": "bob"}, (
        "an existing key is overwritten"
    )

    shown = cbr_a.show_vault(cbr.ShowVaultRequest(vault_id=vault.id)).vault
    assert {t.key: t.value for t in shown.tags} == {"origin": "create_vault", "owner": "bob"}


def test_batch_create_and_delete(cbr_a: RecordingCbrClient, new_vault: Callable[..., Any]) -> None:
    vault = new_vault(cbr_a, [])
    answer = _batch(
        cbr_a, vault.id, "create", [("env", "prod"), ("cost_center", "cc-1.2"), ("成本中心", "研发")]
    )
    assert isinstance(answer, cbr.BatchCreateAndDeleteVaultTagsResponse)
    assert _tags(cbr_a, vault.id) == {"env": "prod", "cost_center": "cc-1.2", "成本中心": "研发"}

    _batch(cbr_a, vault.id, "create", [("env", "staging")])
    assert _tags(cbr_a, vault.id)["env"] == "staging"

    _batch(cbr_a, vault.id, "delete", [("env", None), ("not-there", None)])
    assert _tags(cbr_a, vault.id) == {"cost_center": "cc-1.2", "成本中心": "研发"}, (
        "deleting an absent key is fine"
    )


def test_delete_vault_tag(cbr_a: RecordingCbrClient, new_vault: Callable[..., Any]) -> None:
    vault = new_vault(cbr_a, [])
    _batch(cbr_a, vault.id, "create", [("keep", "1"), ("drop", "2"), ("成本中心", "研发")])

    answer = cbr_a.delete_vault_tag(cbr.DeleteVaultTagRequest(vault_id=vault.id, key="drop"))
    assert isinstance(answer, cbr.DeleteVaultTagResponse)
    assert _tags(cbr_a, vault.id) == {"keep": "1", "成本中心": "研发"}

    # a key that must be percent-encoded in the path (and in the signature)
    cbr_a.delete_vault_tag(cbr.DeleteVaultTagRequest(vault_id=vault.id, key="成本中心"))
    assert _tags(cbr_a, vault.id) == {"keep": "1"}

    expect_error(
        lambda: cbr_a.delete_vault_tag(cbr.DeleteVaultTagRequest(vault_id=vault.id, key="drop")),
        404,
        "BackupService.6601",
    )


def test_show_vault_project_tag_aggregates_values(
    cbr_a: RecordingCbrClient, cbr_c: RecordingCbrClient, new_vault: Callable[..., Any]
) -> None:
    key = unique("project_key").replace("-", "_")
    first, second = new_vault(cbr_a, []), new_vault(cbr_a, [])
    _create_tag(cbr_a, first.id, key, "red")
    _create_tag(cbr_a, second.id, key, "blue")
    _create_tag(cbr_a, second.id, f"{key}_other", "red")

    answer = cbr_a.show_vault_project_tag(cbr.ShowVaultProjectTagRequest())
    by_key = {t.key: t.values for t in answer.tags}
    assert sorted(by_key[key]) == ["blue", "red"]
    assert by_key[f"{key}_other"] == ["red"]
    keys = [t.key for t in answer.tags]
    assert len(keys) == len(set(keys)), "one entry per key"

    elsewhere = cbr_c.show_vault_project_tag(cbr.ShowVaultProjectTagRequest())
    assert key not in {t.key for t in elsewhere.tags}, "tags are per project"


def test_tag_errors(cbr_a: RecordingCbrClient, new_vault: Callable[..., Any]) -> None:
    expect_error(lambda: _create_tag(cbr_a, UNKNOWN_ID, "k", "v"), 404, "BackupService.6105")
    expect_error(
        lambda: cbr_a.show_vault_tag(cbr.ShowVaultTagRequest(vault_id=UNKNOWN_ID)), 404, "BackupService.6105"
    )
    vault = new_vault(cbr_a, [])
    expect_error(lambda: _create_tag(cbr_a, vault.id, "bad=key", "v"), 400, "BackupService.9900")
    expect_error(lambda: _create_tag(cbr_a, vault.id, "k" * 37, "v"), 400, "BackupService.9900")
    expect_error(lambda: _batch(cbr_a, vault.id, "replace", [("k", "v")]), 400, "BackupService.9900")
    assert _tags(cbr_a, vault.id) == {}
