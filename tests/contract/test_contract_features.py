"""CBR features of a region: the replication features follow the regions the emulator serves."""

from __future__ import annotations

import huaweicloudsdkcbr.v1.model as cbr
from cbr_contract_harness import TENANT_A, TENANT_B, RecordingCbrClient, expect_error

FEATURE_KEYS = {
    "replication.enable",
    "replication.source_region",
    "replication.destination_regions",
    "replication.destination_dgw_regions",
    "features.backup_double_az",
}


def test_features_of_each_region(cbr_a: RecordingCbrClient, cbr_b: RecordingCbrClient) -> None:
    mine = cbr_a.list_features(cbr.ListFeaturesRequest()).body
    assert set(mine) == FEATURE_KEYS
    assert mine["replication.enable"] is True
    assert mine["replication.source_region"] == TENANT_A.region
    assert mine["replication.destination_regions"] == [TENANT_B.region]
    assert mine["replication.destination_dgw_regions"] == []
    assert mine["features.backup_double_az"] is False
    theirs = cbr_b.list_features(cbr.ListFeaturesRequest()).body
    assert theirs["replication.source_region"] == TENANT_B.region
    assert theirs["replication.destination_regions"] == [TENANT_A.region]

    page = cbr_a.list_features(cbr.ListFeaturesRequest(limit=2, offset=1)).body
    assert page == {key: mine[key] for key in sorted(mine)[1:3]}


def test_one_feature(cbr_a: RecordingCbrClient) -> None:
    shown = cbr_a.show_feature(cbr.ShowFeatureRequest(feature_key="replication.destination_regions")).body
    assert shown == {"replication.destination_regions": [TENANT_B.region]}
    expect_error(
        lambda: cbr_a.show_feature(cbr.ShowFeatureRequest(feature_key="features.teleport")),
        400,
        "BackupService.9900",
    )
    expect_error(lambda: cbr_a.list_features(cbr.ListFeaturesRequest(limit=0)), 400, "BackupService.9900")
