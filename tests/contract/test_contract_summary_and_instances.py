"""The project's vault summary and the vaults found by tags (resource instances): shown as the SDK reads
them, and following the vaults the project holds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import huaweicloudsdkcbr.v1.model as cbr
from cbr_contract_harness import RecordingCbrClient, expect_error, unique


def _summary(client: RecordingCbrClient) -> Any:
    return client.show_summary(cbr.ShowSummaryRequest())


def _instances(client: RecordingCbrClient, **request: Any) -> Any:
    body = cbr.VaultResourceInstancesReq(**request)
    return client.show_vault_resource_instances(cbr.ShowVaultResourceInstancesRequest(body=body))


def test_show_summary_counts_a_new_vaults_size(
    cbr_a: RecordingCbrClient, new_vault: Callable[..., Any]
) -> None:
    before = _summary(cbr_a)
    assert isinstance(before, cbr.ShowSummaryResponse)
    new_vault(cbr_a, [], size=40)
    after = _summary(cbr_a)
    assert after.size == before.size + 40
    assert after.used_size >= before.used_size >= 0


def test_show_vault_resource_instances_filters_by_tag_and_counts(
    cbr_a: RecordingCbrClient, new_vault: Callable[..., Any]
) -> None:
    value = unique("team")
    tagged = new_vault(cbr_a, [], tags=[cbr.Tag(key="team", value=value)])
    new_vault(cbr_a, [], tags=[cbr.Tag(key="team", value=unique("other"))])
    by_tag = [cbr.TagsReq(key="team", values=[value])]

    found = _instances(cbr_a, action="filter", tags=by_tag)
    assert [r.resource_id for r in found.resources] == [tagged.id]
    assert found.resources[0].resource_detail.vault.id == tagged.id
    assert {t.key: t.value for t in found.resources[0].tags} == {"team": value}
    assert _instances(cbr_a, action="count", tags=by_tag).total_count == 1


def test_show_vault_resource_instances_refuses_an_unknown_action(cbr_a: RecordingCbrClient) -> None:
    expect_error(lambda: _instances(cbr_a, action="delete"), 400, "BackupService.9900")
