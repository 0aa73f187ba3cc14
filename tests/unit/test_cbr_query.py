"""Query pairs, paths and endpoints are built exactly as the SDK builds them."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from orchestrator.cbr.endpoints import Endpoints, host_of, path_prefix_of
from orchestrator.cbr.operations import sdk_operations
from orchestrator.cbr.query import (
    BackupFilter,
    MemberFilter,
    OperationLogFilter,
    ProtectableFilter,
    VaultFilter,
    format_query_time,
    query_pairs,
)
from orchestrator.cbr.signing import canonical_query
from orchestrator.cbr.transport import encode_path, operation_table


def test_query_pairs_booleans_lists_and_none() -> None:
    pairs = query_pairs({"a": True, "b": False, "c": None, "d": ["x", "y"], "e": 10, "f": "t"})
    assert pairs == [("a", "true"), ("b", "false"), ("d", "x"), ("d", "y"), ("e", "10"), ("f", "t")]


def test_the_sent_query_matches_the_signing_vector() -> None:
    """The nine filters of signing vector 1 give the SDK's canonical query string."""
    filters = BackupFilter(
        vault_id="3b5816b5-f29c-4172-9d9a-76c719a659ce",
        resource_type="OS::Nova::Server",
        status="available",
        name="daily backup",
        show_replication=True,
        sort="created_at:desc",
        start_time=datetime(2024, 3, 1, tzinfo=UTC),
    )
    pairs = filters.to_query() + query_pairs({"limit": 10, "offset": 0})
    assert canonical_query(pairs) == (
        "limit=10&name=daily%20backup&offset=0&resource_type=OS%3A%3ANova%3A%3AServer&show_replication=true"
        "&sort=created_at%3Adesc&start_time=2024-03-01T00%3A00%3A00Z&status=available"
        "&vault_id=3b5816b5-f29c-4172-9d9a-76c719a659ce"
    )


def test_repeated_status_is_sorted_by_value() -> None:
    pairs = BackupFilter(status=["protecting", "available", "error"]).to_query()
    assert canonical_query(pairs) == "status=available&status=error&status=protecting"


def test_times_are_utc_with_z() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert format_query_time(datetime(2024, 3, 1, 2, 0, tzinfo=plus_two)) == "2024-03-01T00:00:00Z"
    assert format_query_time(datetime(2024, 3, 1, 2, 0)) == "2024-03-01T02:00:00Z"
    assert OperationLogFilter(end_time="2018-02-01T12:00:00Z").to_query() == [
        ("end_time", "2018-02-01T12:00:00Z")
    ]


def test_vault_filter_repeats_ids_and_joins_resource_ids() -> None:
    pairs = VaultFilter(id=["v2", "v1"], resource_ids=["r1", "r2"], object_type="server").to_query()
    assert canonical_query(pairs) == "id=v1&id=v2&object_type=server&resource_ids=r1%2Cr2"


def test_other_filters() -> None:
    assert ProtectableFilter(server_id="s1", status="available").to_query() == [
        ("status", "available"),
        ("server_id", "s1"),
    ]
    assert MemberFilter(status="accepted", sort="created_at").to_query() == [
        ("status", "accepted"),
        ("sort", "created_at"),
    ]


def test_filters_refuse_unknown_names() -> None:
    with pytest.raises(ValueError, match="extra"):
        BackupFilter.model_validate({"vaultid": "typo"})


def test_path_parameters_have_no_safe_characters() -> None:
    path = encode_path(
        "/v3/{project_id}/vault/{vault_id}/tags/{key}",
        {"project_id": "p", "vault_id": "v/1", "key": "cost center/é+%"},
    )
    assert path == "/v3/p/vault/v%2F1/tags/cost%20center%2F%C3%A9%2B%25"
    with pytest.raises(ValueError, match="vault_id"):
        encode_path("/v3/{project_id}/vaults/{vault_id}", {"project_id": "p"})


def test_operation_table_knows_the_calls_and_their_idempotency() -> None:
    table = operation_table()
    assert (table["restore_backup"].method, table["restore_backup"].success_status) == ("POST", 202)
    assert table["update_expiration_time"].success_status == 200  # absent from the spec set
    assert not table["create_checkpoint"].idempotent
    assert not table["copy_backup"].idempotent
    assert table["create_vault_tags"].idempotent
    assert table["delete_vault"].idempotent
    assert table["update_vault"].idempotent
    assert table["list_backups"].content_type() == "application/json"
    assert table["create_vault"].content_type() == "application/json;charset=utf-8"


def test_default_endpoints_follow_the_public_pattern() -> None:
    endpoints = Endpoints()
    assert endpoints.cbr_url("ap-southeast-1") == "https://cbr.ap-southeast-1.myhuaweicloud.com"
    assert endpoints.iam_url("eu-west-101") == "https://iam.eu-west-101.myhuaweicloud.com"


def test_endpoint_overrides_patterns_and_single_url() -> None:
    otc = Endpoints(
        cbr_pattern="https://cbr.{region}.otc.t-systems.com",
        iam_pattern="https://iam.{region}.otc.t-systems.com",
        cbr_overrides={"eu-nl": "https://cbr.eu-nl.example.org/"},
    )
    assert otc.cbr_url("eu-de") == "https://cbr.eu-de.otc.t-systems.com"
    assert otc.cbr_url("eu-nl") == "https://cbr.eu-nl.example.org"
    assert otc.iam_url("eu-nl") == "https://iam.eu-nl.otc.t-systems.com"
    local = Endpoints.single("http://127.0.0.1:8443/")
    assert local.cbr_url("eu-west-101") == local.iam_url("cn-north-4") == "http://127.0.0.1:8443"


@pytest.mark.parametrize("region", ["", "EU", "eu west", "a.b", "x/../y"])
def test_region_ids_are_checked(region: str) -> None:
    with pytest.raises(ValueError, match="region"):
        Endpoints().cbr_url(region)


@pytest.mark.parametrize("url", ["ftp://host", "host:80", "http://h/?q=1"])
def test_base_urls_are_checked(url: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        Endpoints.single(url)


def test_host_and_prefix() -> None:
    assert host_of("http://127.0.0.1:8443") == "127.0.0.1:8443"
    assert host_of("https://cbr.eu-west-101.myhuaweicloud.com") == "cbr.eu-west-101.myhuaweicloud.com"
    assert path_prefix_of("http://gateway/cbr/") == "/cbr"
    assert path_prefix_of("http://gateway") == ""


@pytest.mark.parametrize(
    ("operation", "filter_type", "paging"),
    [
        ("list_backups", BackupFilter, {"limit", "offset", "marker"}),
        ("list_op_logs", OperationLogFilter, {"limit", "offset"}),
        ("list_vault", VaultFilter, {"limit", "offset"}),
        ("list_protectable", ProtectableFilter, {"limit", "offset", "marker"}),
        ("show_members_detail", MemberFilter, {"limit", "offset", "marker"}),
    ],
)
def test_filters_cover_every_query_parameter_of_the_sdk(
    operation: str, filter_type: type, paging: set[str]
) -> None:
    [entry] = [item for item in sdk_operations() if item["operation"] == operation]
    assert set(filter_type.model_fields) | paging == {param["name"] for param in entry["query_params"]}
