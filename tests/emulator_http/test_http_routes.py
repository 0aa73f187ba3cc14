"""The routing table built from the SDK's operation list."""

from __future__ import annotations

import pytest

from cbr_emulator.errors import CbrError
from cbr_emulator.gateway import GatewayError
from cbr_emulator.routes import RouteTable
from orchestrator.cbr.operations import success_statuses

PROJECT = "0123456789abcdef0123456789abcdef"
TABLE = RouteTable.from_sdk()


@pytest.mark.parametrize(
    ("method", "path", "operation", "params"),
    [
        ("GET", f"/v3/{PROJECT}/vaults", "list_vault", {}),
        ("GET", f"/v3/{PROJECT}/vaults/summary", "show_summary", {}),
        ("GET", f"/v3/{PROJECT}/vaults/external", "list_external_vault", {}),
        ("GET", f"/v3/{PROJECT}/vaults/v-1", "show_vault", {"vault_id": "v-1"}),
        ("PUT", f"/v3/{PROJECT}/vaults/batch-update", "batch_update_vault", {}),
        ("PUT", f"/v3/{PROJECT}/vaults/v-1", "update_vault", {"vault_id": "v-1"}),
        ("POST", f"/v3/{PROJECT}/checkpoints", "create_checkpoint", {}),
        ("POST", f"/v3/{PROJECT}/backups/b-1/restore", "restore_backup", {"backup_id": "b-1"}),
        (
            "DELETE",
            f"/v3/{PROJECT}/vault/v-1/tags/cost%20center%2F%C3%A9%2B%25",
            "delete_vault_tag",
            {"vault_id": "v-1", "key": "cost center/é+%"},
        ),
    ],
)
def test_match_picks_the_most_specific_template(
    method: str, path: str, operation: str, params: dict[str, str]
) -> None:
    match = TABLE.match(method, path)
    assert match.operation == operation
    assert match.project_id == PROJECT
    assert match.path_params() == params


def test_every_sdk_operation_is_routed() -> None:
    operations = {route.operation for route in TABLE.routes}
    assert operations == set(success_statuses())
    assert len(TABLE.routes) == len(operations)


DOMAIN_SCOPED = {
    "list_projects",
    "list_domain_projects",
    "show_domain",
    "migrate_domain",
    "show_migrate_status",
}


def test_only_a_project_id_segment_makes_a_route_project_scoped() -> None:
    scoped = {route.operation: route.project_scoped for route in TABLE.routes}
    assert {operation for operation, project in scoped.items() if not project} == DOMAIN_SCOPED


@pytest.mark.parametrize(
    ("method", "path", "operation", "params"),
    [
        ("GET", f"/v3/domain/{PROJECT}", "show_domain", {"source_project_id": PROJECT}),
        ("GET", "/v3/domain/acme/projects", "list_domain_projects", {"domain_name": "acme"}),
        ("GET", "/v3/region-projects", "list_projects", {}),
        ("GET", "/v3/migrates", "show_migrate_status", {}),
        ("POST", "/v3/migrates", "migrate_domain", {}),
    ],
)
def test_domain_scoped_paths_name_no_project(
    method: str, path: str, operation: str, params: dict[str, str]
) -> None:
    match = TABLE.match(method, path)
    assert (match.operation, match.route.project_scoped) == (operation, False)
    assert match.project_id is None  # {source_project_id} is an operand, not the caller's project
    assert match.path_params() == params


def test_unknown_path_is_404() -> None:
    with pytest.raises(GatewayError) as caught:
        TABLE.match("GET", f"/v3/{PROJECT}/nothing-here")
    assert (caught.value.status, caught.value.code) == (404, "APIGW.0101")


def test_wrong_method_is_405_with_allow() -> None:
    with pytest.raises(GatewayError) as caught:
        TABLE.match("PATCH", f"/v3/{PROJECT}/vaults")
    assert caught.value.status == 405
    assert caught.value.headers["Allow"] == "GET, POST"


def test_empty_parameter_does_not_match() -> None:
    with pytest.raises(GatewayError):
        TABLE.match("GET", f"/v3/{PROJECT}/backups//members")


def test_invalid_percent_encoding_is_400() -> None:
    with pytest.raises(CbrError) as caught:
        TABLE.match("GET", f"/v3/{PROJECT}/vaults/%FF")
    assert (caught.value.status, caught.value.code) == (400, "BackupService.9900")


def test_served_subset() -> None:
    table = RouteTable.from_sdk(served={"list_vault"})
    assert [route.operation for route in table.routes] == ["list_vault"]
    with pytest.raises(GatewayError):
        table.match("GET", f"/v3/{PROJECT}/backups")
