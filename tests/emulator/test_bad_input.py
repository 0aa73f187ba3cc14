"""Malformed requests: always 400 ``BackupService.9900``, never an exception, and nothing changes."""

from __future__ import annotations

from typing import Any

import pytest
from emu_helpers import Api, build, settle

from cbr_emulator.gateway import GatewayError

BILLING = {
    "object_type": "server",
    "protect_type": "backup",
    "consistent_level": "crash_consistent",
    "size": 100,
}


def _vault(**changes: Any) -> dict[str, Any]:
    vault: dict[str, Any] = {"name": "v", "billing": dict(BILLING), "resources": []}
    for key, value in changes.items():
        if key.startswith("billing_"):
            vault["billing"][key.removeprefix("billing_")] = value
        else:
            vault[key] = value
    return {"vault": vault}


def _policy(**changes: Any) -> dict[str, Any]:
    policy: dict[str, Any] = {
        "name": "p",
        "operation_type": "backup",
        "trigger": {"properties": {"pattern": ["FREQ=DAILY;BYHOUR=1;BYMINUTE=0"]}},
        "operation_definition": {},
    }
    for key, value in changes.items():
        if key == "definition":
            policy["operation_definition"] = value
        elif key == "window":
            policy["trigger"]["properties"]["start_window_minutes"] = value
        else:
            policy[key] = value
    return {"policy": policy}


SERVER = {"id": "x", "type": "OS::Nova::Server"}
REPLICATE = {
    "destination_project_id": "b" * 32,
    "destination_region": "ap-southeast-1",
    "destination_vault_id": "v",
}

# (operation, path keys to fill from the fixture, query, body)
BODIES: list[tuple[str, dict[str, Any]]] = [
    ("create_vault", {"body": None}),
    ("create_vault", {"body": []}),
    ("create_vault", {"body": "vault"}),
    ("create_vault", {"body": {"vault": None}}),
    ("create_vault", {"body": {"vault": {}}}),
    ("create_vault", {"body": _vault(name=12)}),
    ("create_vault", {"body": _vault(name="n" * 65)}),
    ("create_vault", {"body": _vault(name="with space")}),
    ("create_vault", {"body": _vault(name="")}),
    ("create_vault", {"body": _vault(billing_size="100")}),
    ("create_vault", {"body": _vault(billing_size=5)}),
    ("create_vault", {"body": _vault(billing_size=10_485_761)}),
    ("create_vault", {"body": _vault(billing_size=100.5)}),
    ("create_vault", {"body": _vault(billing_size=True)}),
    ("create_vault", {"body": _vault(billing_object_type="vm")}),
    ("create_vault", {"body": _vault(billing_protect_type="hybrid")}),
    ("create_vault", {"body": _vault(billing_consistent_level="strong")}),
    ("create_vault", {"body": _vault(billing_charging_mode="pre_paid")}),
    ("create_vault", {"body": _vault(billing_object_type="disk", billing_protect_type="replication")}),
    ("create_vault", {"body": _vault(billing_colour="blue")}),
    ("create_vault", {"body": _vault(resources="all")}),
    ("create_vault", {"body": _vault(resources=[{"id": "x", "type": "OS::Nova::Thing"}])}),
    ("create_vault", {"body": _vault(resources=[{"type": "OS::Nova::Server"}])}),
    ("create_vault", {"body": _vault(resources=[{**SERVER, "flavour": 1}])}),
    ("create_vault", {"body": _vault(tags=[{"key": f"k{n}", "value": "v"} for n in range(11)])}),
    ("create_vault", {"body": _vault(tags=[{"key": "k"}])}),
    ("create_vault", {"body": _vault(threshold=0)}),
    ("create_vault", {"body": _vault(threshold=101)}),
    ("create_vault", {"body": _vault(description="<script>")}),
    ("create_vault", {"body": _vault(auto_bind="true")}),
    ("create_vault", {"body": _vault(unknown_field=1)}),
    ("create_vault", {"body": {"vault": _vault()["vault"], "extra": 1}}),
    ("update_vault", {"vault": True, "body": {"vault": {"billing": {"size": -1}}}}),
    ("update_vault", {"vault": True, "body": {"vault": {"threshold": "high"}}}),
    ("update_vault", {"vault": True, "body": {"vault": {"name": None, "colour": "red"}}}),
    ("update_vault", {"vault": True, "body": [1]}),
    ("add_vault_resource", {"vault": True, "body": {"resources": []}}),
    ("add_vault_resource", {"vault": True, "body": {"resources": "x"}}),
    ("add_vault_resource", {"vault": True, "body": {"resources": [SERVER] * 257}}),
    ("add_vault_resource", {"vault": True, "body": {}}),
    ("remove_vault_resource", {"vault": True, "body": {"resource_ids": []}}),
    ("remove_vault_resource", {"vault": True, "body": {"resource_ids": [1]}}),
    ("associate_vault_policy", {"vault": True, "body": {}}),
    ("associate_vault_policy", {"vault": True, "body": {"policy_id": "a", "add_policy_ids": ["b"]}}),
    ("disassociate_vault_policy", {"vault": True, "body": {"policy_id": 7}}),
    ("create_checkpoint", {"body": {"checkpoint": {"vault_id": 5}}}),
    ("create_checkpoint", {"body": {"checkpoint": {}}}),
    ("create_checkpoint", {"body": {"vault_id": "x"}}),
    ("create_checkpoint", {"checkpoint": {"parameters": {"resources": "all"}}}),
    ("create_checkpoint", {"checkpoint": {"parameters": {"name": "n" * 65}}}),
    ("create_checkpoint", {"checkpoint": {"parameters": {"retention_duration_days": 0}}}),
    ("create_checkpoint", {"checkpoint": {"parameters": {"retention_duration_days": 40000}}}),
    ("create_checkpoint", {"checkpoint": {"parameters": {"incremental": "yes"}}}),
    ("create_checkpoint", {"checkpoint": {"parameters": {"priority": 1}}}),
    ("create_checkpoint", {"checkpoint": {"parameters": {"description": "<b>"}}}),
    ("copy_checkpoint", {"body": {"replicate": {"vault_id": "x"}}}),
    ("copy_backup", {"backup": True, "body": {"replicate": {**REPLICATE, "destination_vault_id": None}}}),
    ("copy_backup", {"backup": True, "body": {"replicate": {**REPLICATE, "destination_region": "eu west"}}}),
    ("restore_backup", {"backup": True, "body": {"restore": "server"}}),
    ("restore_backup", {"backup": True, "body": {"restore": {"mappings": [{"backup_id": "b"}]}}}),
    ("restore_backup", {"backup": True, "body": {"restore": {"power_on": "yes"}}}),
    ("update_backup", {"backup": True, "body": {"backup": {"name": ""}}}),
    ("update_backup", {"backup": True, "body": {"backup": {"name": 3}}}),
    ("create_policy", {"body": _policy(operation_type="archive")}),
    ("create_policy", {"body": _policy(trigger=None)}),
    ("create_policy", {"body": _policy(enabled="yes")}),
    ("create_policy", {"body": _policy(definition={"retention_duration_days": 0})}),
    ("create_policy", {"body": _policy(definition={"max_backups": 100_000})}),
    ("create_policy", {"body": _policy(definition={"day_backups": 3})}),
    ("create_policy", {"body": _policy(definition={"day_backups": 101, "timezone": "UTC+08:00"})}),
    ("create_policy", {"body": _policy(definition={"week_backups": 1, "timezone": "GMT+8"})}),
    ("create_policy", {"body": _policy(definition={"full_backup_interval": 101})}),
    ("create_policy", {"body": _policy(window=30)}),
    ("create_policy", {"body": _policy(definition=[])}),
    ("update_policy", {"policy": True, "body": {"policy": {"enabled": 1}}}),
    ("update_policy", {"policy": True, "body": {"policy": {"trigger": {"properties": {}}}}}),
    ("create_vault_tags", {"vault": True, "body": {"tag": {"key": 5, "value": "v"}}}),
    ("create_vault_tags", {"vault": True, "body": {"tag": "k=v"}}),
    ("batch_create_and_delete_vault_tags", {"vault": True, "body": {"tags": []}}),
    ("add_member", {"backup": True, "body": {"members": "c" * 32}}),
    ("add_member", {"backup": True, "body": {"members": [f"{n:032x}" for n in range(11)]}}),
    ("show_vault_resource_instances", {"body": {"action": "filter", "tags": [{"key": "k"}]}}),
    (
        "show_vault_resource_instances",
        {"body": {"action": "filter", "matches": [{"key": "name", "value": "x"}]}},
    ),
]

QUERIES: list[tuple[str, list[tuple[str, str]]]] = [
    ("list_backups", [("limit", "abc")]),
    ("list_backups", [("limit", "0")]),
    ("list_backups", [("limit", "1001")]),
    ("list_backups", [("limit", "1.5")]),
    ("list_backups", [("offset", "-1")]),
    ("list_backups", [("status", "done")]),
    ("list_backups", [("status", "available"), ("status", "gone")]),
    ("list_backups", [("image_type", "snapshot")]),
    ("list_backups", [("resource_type", "OS::Nova::Thing")]),
    ("list_backups", [("own_type", "public")]),
    ("list_backups", [("member_status", "maybe")]),
    ("list_backups", [("start_time", "yesterday")]),
    ("list_backups", [("end_time", "2025-13-01T00:00:00Z")]),
    ("list_backups", [("incremental", "maybe")]),
    ("list_backups", [("sort", "size")]),
    ("list_backups", [("sort", "x" * 256)]),
    ("list_backups", [("used_percent", "0")]),
    ("list_backups", [("used_percent", "abc")]),
    ("list_backups", [("dec", "1")]),
    ("list_op_logs", [("limit", "x")]),
    ("list_op_logs", [("limit", "1001")]),
    ("list_op_logs", [("offset", "1.5")]),
    ("list_op_logs", [("operation_type", "snapshot")]),
    ("list_op_logs", [("status", "done")]),
    ("list_op_logs", [("start_time", "2025")]),
    ("list_vault", [("limit", "0")]),
    ("list_vault", [("object_type", "vm")]),
    ("list_vault", [("protect_type", "archive")]),
    ("list_vault", [("cloud_type", "private")]),
    ("list_policies", [("operation_type", "archive")]),
    ("show_storage_usage", [("offset", "x")]),
    ("show_members_detail", [("sort", "colour")]),
]


@pytest.fixture
def busy() -> dict[str, Any]:
    """A project with a vault, finished and running backups, a policy and a share."""
    api = Api(build())
    servers = api.servers()
    vault = api.vault(resources=servers[:2])
    api.backup_run(vault["id"])
    settle(api)
    api.backup_run(vault["id"], resources=[servers[1].id])
    policy = api.ok(
        "create_policy",
        body=_policy(),
    )["policy"]
    backup = api.backups(resource_id=servers[0].id)[0]
    api.ok("add_member", path={"backup_id": backup["id"]}, body={"members": ["c" * 32]})
    return {"api": api, "vault": vault["id"], "policy": policy["id"], "backup": backup["id"]}


def _snapshot(api: Api) -> str:
    world = api.emulator.world
    return repr(world.projects) + repr(len(world.scheduler)) + repr(len(world.runner))


def _path(busy: dict[str, Any], spec: dict[str, Any]) -> dict[str, str]:
    path = {}
    for name in ("vault", "backup", "policy"):
        if spec.get(name):
            path[f"{name}_id"] = busy[name]
    return path


@pytest.mark.parametrize(("operation", "spec"), BODIES, ids=[f"{n}-{op}" for n, (op, _) in enumerate(BODIES)])
def test_malformed_bodies_are_refused_with_9900_and_change_nothing(
    busy: dict[str, Any], operation: str, spec: dict[str, Any]
) -> None:
    api: Api = busy["api"]
    body = spec.get("body")
    if "checkpoint" in spec:
        body = {"checkpoint": {"vault_id": busy["vault"], **spec["checkpoint"]}}
    before = _snapshot(api)
    error = api.refused(operation, "9900", 400, path=_path(busy, spec), body=body)
    assert error.message.startswith("Parameter verification failed.")
    assert _snapshot(api) == before


@pytest.mark.parametrize(
    ("operation", "query"), QUERIES, ids=[f"{n}-{op}" for n, (op, _) in enumerate(QUERIES)]
)
def test_malformed_queries_are_refused_with_9900(
    busy: dict[str, Any], operation: str, query: list[tuple[str, str]]
) -> None:
    api: Api = busy["api"]
    path = {"backup_id": busy["backup"]} if operation == "show_members_detail" else {}
    before = _snapshot(api)
    api.refused(operation, "9900", 400, path=path, query=query)
    assert _snapshot(api) == before


def test_missing_path_parameters_are_9900(api: Api) -> None:
    for operation in (
        "show_vault",
        "show_backup",
        "show_checkpoint",
        "show_op_log",
        "show_policy",
        "delete_vault",
    ):
        api.refused(operation, "9900", 400)
    api.refused("show_vault", "9900", 400, path={"vault_id": "  "})


def test_an_operation_without_a_handler_is_the_gateways_404_never_a_5xx(api: Api) -> None:
    for operation in ("no_such_operation", "list_vaults_of_mars"):
        with pytest.raises(GatewayError) as caught:
            api.send(operation, body={"anything": True})
        assert (caught.value.status, caught.value.code) == (404, "APIGW.0101")
        assert caught.value.message == "The API does not exist or has not been published in the environment"
