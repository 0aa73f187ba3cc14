"""Vaults: lifecycle, bound resources, applied policies, summary."""

from __future__ import annotations

from typing import Any

import pytest
from emu_helpers import Api, settle
from sdk_parse import sdk_parse

DAILY = "FREQ=DAILY;INTERVAL=1;BYHOUR=6;BYMINUTE=00"


def _policy(api: Api, operation_type: str = "backup", **definition: Any) -> dict[str, Any]:
    body = {
        "policy": {
            "name": f"{operation_type}-policy",
            "operation_type": operation_type,
            "trigger": {"properties": {"pattern": [DAILY]}},
            "operation_definition": definition,
        }
    }
    policy: dict[str, Any] = api.ok("create_policy", body=body)["policy"]
    return policy


def test_create_vault_answers_the_sdk_shape_with_billing_and_bound_resources(api: Api) -> None:
    servers = api.servers()
    vault = api.vault(
        resources=servers[:2], size=200, description="first", tags=[{"key": "env", "value": "dev"}]
    )
    parsed = sdk_parse("CreateVaultResponse", {"vault": vault})
    assert parsed.vault.billing.spec_code == "vault.backup.server.normal"
    assert vault["provider_id"] == "0daac4c5-6707-4851-97ba-169e36266b66"
    billing = vault["billing"]
    assert (billing["allocated"], billing["used"], billing["size"], billing["status"]) == (
        0,
        0,
        200,
        "available",
    )
    assert vault["billing"]["charging_mode"] == "post_paid"
    assert [r["id"] for r in vault["resources"]] == [s.id for s in servers[:2]]
    assert vault["resources"][0]["name"] == servers[0].name
    assert vault["resources"][0]["size"] == servers[0].size_gb
    assert vault["resources"][0]["protect_status"] == "available"
    assert vault["tags"] == [{"key": "env", "value": "dev"}]
    assert vault["description"] == "first"
    assert vault["bind_rules"] == {}
    assert vault["created_at"] == "2025-01-06T00:00:00.000000"


@pytest.mark.parametrize(
    ("object_type", "protect_type", "spec_code", "provider"),
    [
        ("disk", "backup", "vault.backup.volume.normal", "d1603440-187d-4516-af25-121250c7cc97"),
        ("turbo", "backup", "vault.backup.turbo.normal", "3f3c3220-245c-4805-b811-758870015881"),
        ("server", "replication", "vault.replication.server.normal", "0daac4c5-6707-4851-97ba-169e36266b66"),
    ],
)
def test_spec_code_and_provider_follow_object_and_protect_type(
    api: Api, object_type: str, protect_type: str, spec_code: str, provider: str
) -> None:
    vault = api.vault(object_type=object_type, protect_type=protect_type)
    assert vault["billing"]["spec_code"] == spec_code
    assert vault["provider_id"] == provider


def test_show_update_and_list_vaults(api: Api) -> None:
    first = api.vault(name="alpha", resources=api.servers()[:1])
    second = api.vault(name="beta", object_type="disk", resources=api.standalone_disks()[:1])
    shown = api.ok("show_vault", path={"vault_id": first["id"]})
    sdk_parse("ShowVaultResponse", shown)
    assert shown["vault"]["name"] == "alpha"
    body = {"vault": {"name": "alpha2", "billing": {"size": 2000}, "threshold": 90, "smn_notify": False}}
    updated = api.ok("update_vault", path={"vault_id": first["id"]}, body=body)
    sdk_parse("UpdateVaultResponse", updated)
    assert updated["vault"]["name"] == "alpha2"
    assert updated["vault"]["billing"]["size"] == 2000
    assert (updated["vault"]["threshold"], updated["vault"]["smn_notify"]) == (90, False)
    listed = api.ok("list_vault")
    sdk_parse("ListVaultResponse", listed)
    assert listed["count"] == 2
    assert {v["id"] for v in listed["vaults"]} == {first["id"], second["id"]}
    assert [v["id"] for v in api.ok("list_vault", query=[("object_type", "disk")])["vaults"]] == [
        second["id"]
    ]
    assert [v["id"] for v in api.ok("list_vault", query=[("name", "alpha2")])["vaults"]] == [first["id"]]
    by_ids = api.ok("list_vault", query=[("id", first["id"]), ("id", second["id"])])
    assert by_ids["count"] == 2
    by_resource = api.ok("list_vault", query=[("resource_ids", api.servers()[0].id)])
    assert [v["id"] for v in by_resource["vaults"]] == [first["id"]]
    paged = api.ok("list_vault", query=[("limit", "1"), ("offset", "1")])
    assert (paged["count"], paged["limit"], paged["offset"], len(paged["vaults"])) == (2, 1, 1, 1)


def test_vault_capacity_only_grows(api: Api) -> None:
    vault = api.vault(size=500)
    api.refused(
        "update_vault", "6101", path={"vault_id": vault["id"]}, body={"vault": {"billing": {"size": 100}}}
    )


def test_unknown_vault_is_6105_everywhere(api: Api) -> None:
    path = {"vault_id": "00000000-0000-4000-8000-000000000000"}
    for operation, body in [
        ("show_vault", None),
        ("update_vault", {"vault": {"name": "x"}}),
        ("delete_vault", None),
        ("add_vault_resource", {"resources": [{"id": api.servers()[0].id, "type": "OS::Nova::Server"}]}),
        ("remove_vault_resource", {"resource_ids": ["x"]}),
        ("associate_vault_policy", {"policy_id": "x"}),
        ("disassociate_vault_policy", {"policy_id": "x"}),
    ]:
        api.refused(operation, "6105", 404, path=path, body=body)


def test_add_and_remove_resources(api: Api) -> None:
    servers = api.servers()
    vault = api.vault(resources=servers[:1])
    path = {"vault_id": vault["id"]}
    added = api.ok(
        "add_vault_resource",
        path=path,
        body={"resources": [{"id": servers[1].id, "type": "OS::Nova::Server"}]},
    )
    sdk_parse("AddVaultResourceResponse", added)
    assert added == {"add_resource_ids": [servers[1].id]}
    removed = api.ok("remove_vault_resource", path=path, body={"resource_ids": [servers[0].id]})
    sdk_parse("RemoveVaultResourceResponse", removed)
    assert removed == {"remove_resource_ids": [servers[0].id]}
    assert [r["id"] for r in api.ok("show_vault", path=path)["vault"]["resources"]] == [servers[1].id]


def test_resource_binding_rules(api: Api) -> None:
    servers, disks = api.servers(), api.standalone_disks()
    vault = api.vault(resources=servers[:1])
    other = api.vault(name="other")
    path = {"vault_id": other["id"]}

    def add(*items: dict[str, str]) -> dict[str, Any]:
        return {"resources": list(items)}

    server = {"id": servers[1].id, "type": "OS::Nova::Server"}
    api.refused(
        "add_vault_resource", "6103", path=path, body=add({"id": servers[0].id, "type": "OS::Nova::Server"})
    )
    api.refused("add_vault_resource", "6104", path=path, body=add(server, server))
    api.refused(
        "add_vault_resource", "6102", path=path, body=add({"id": disks[0].id, "type": "OS::Cinder::Volume"})
    )
    missing = {"id": "11111111-1111-4111-8111-111111111111", "type": "OS::Nova::Server"}
    api.refused("add_vault_resource", "6302", 404, path=path, body=add(missing))
    api.refused(
        "add_vault_resource", "6302", path=path, body=add({"id": disks[0].id, "type": "OS::Nova::Server"})
    )
    api.refused("remove_vault_resource", "6135", path=path, body={"resource_ids": [servers[0].id]})
    assert api.ok("show_vault", path=path)["vault"]["resources"] == []
    assert len(api.ok("show_vault", path={"vault_id": vault["id"]})["vault"]["resources"]) == 1


def test_a_vault_holds_at_most_256_resources() -> None:
    from emu_helpers import build

    api = Api(build(disks=300, servers=0))
    disks = api.standalone_disks()
    vault = api.vault(object_type="disk", resources=disks[:255])
    path = {"vault_id": vault["id"]}
    api.ok(
        "add_vault_resource",
        path=path,
        body={"resources": [{"id": disks[255].id, "type": "OS::Cinder::Volume"}]},
    )
    api.refused(
        "add_vault_resource",
        "6100",
        path=path,
        body={"resources": [{"id": disks[256].id, "type": "OS::Cinder::Volume"}]},
    )
    resources = [{"id": d.id, "type": "OS::Cinder::Volume"} for d in disks[256:300]] * 6
    billing = {
        "object_type": "disk",
        "protect_type": "backup",
        "consistent_level": "crash_consistent",
        "size": 10,
    }
    body = {"vault": {"name": "too-many", "billing": billing, "resources": resources[:256]}}
    api.refused("create_vault", "9900", body=body)  # create_vault takes at most 255 resources


def test_removing_a_resource_deletes_its_backups_in_the_vault(api: Api) -> None:
    servers = api.servers()
    vault = api.vault(resources=servers[:2])
    api.backup_run(vault["id"])
    settle(api)
    api.refused(
        "remove_vault_resource", "6135", path={"vault_id": vault["id"]}, body={"resource_ids": ["nope"]}
    )
    api.ok("remove_vault_resource", path={"vault_id": vault["id"]}, body={"resource_ids": [servers[0].id]})
    gone = api.backups(resource_id=servers[0].id)
    assert [b["status"] for b in gone] == ["waiting_delete"]
    (log,) = api.logs(operation_type="remove_resource")
    assert log["extra_info"]["remove_resources"]["total_count"] == 1
    settle(api)
    assert api.backups(resource_id=servers[0].id) == []
    assert len(api.backups(resource_id=servers[1].id)) == 1
    assert api.logs(operation_type="remove_resource")[0]["status"] == "success"


def test_a_resource_being_backed_up_cannot_be_removed(api: Api) -> None:
    server = api.servers()[0]
    vault = api.vault(resources=[server])
    api.backup_run(vault["id"])
    api.refused(
        "remove_vault_resource", "6125", path={"vault_id": vault["id"]}, body={"resource_ids": [server.id]}
    )


def test_delete_vault_removes_it_and_its_backups(api: Api) -> None:
    vault = api.vault(resources=api.servers()[:2])
    api.backup_run(vault["id"])
    api.refused("delete_vault", "6203", path={"vault_id": vault["id"]})
    settle(api)
    response = api.send("delete_vault", path={"vault_id": vault["id"]})
    assert (response.status, response.body) == (204, None)
    api.refused("show_vault", "6105", path={"vault_id": vault["id"]})
    assert {b["status"] for b in api.backups()} == {"waiting_delete"}
    (log,) = api.logs(operation_type="vault_delete")
    assert log["vault_id"] == vault["id"]
    assert log["extra_info"]["vault_delete"] == {"fail_count": 0, "total_count": 2}
    settle(api)
    assert api.backups() == []
    assert api.logs(operation_type="vault_delete")[0]["status"] == "success"


def test_associate_and_disassociate_a_backup_policy(api: Api) -> None:
    vault = api.vault()
    policy = _policy(api)
    path = {"vault_id": vault["id"]}
    api.refused("associate_vault_policy", "6000", 404, path=path, body={"policy_id": "missing"})
    api.refused("disassociate_vault_policy", "6002", 404, path=path, body={"policy_id": policy["id"]})
    answer = api.ok("associate_vault_policy", path=path, body={"policy_id": policy["id"]})
    sdk_parse("AssociateVaultPolicyResponse", answer)
    assert answer == {"associate_policy": {"vault_id": vault["id"], "policy_id": policy["id"]}}
    assert api.ok("list_vault", query=[("policy_id", policy["id"])])["count"] == 1
    shown = api.ok("show_policy", path={"policy_id": policy["id"]})["policy"]
    assert shown["associated_vaults"] == [{"vault_id": vault["id"], "destination_vault_id": None}]
    answer = api.ok("disassociate_vault_policy", path=path, body={"policy_id": policy["id"]})
    sdk_parse("DisassociateVaultPolicyResponse", answer)
    assert answer == {"dissociate_policy": {"vault_id": vault["id"], "policy_id": policy["id"]}}
    assert api.ok("show_policy", path={"policy_id": policy["id"]})["policy"]["associated_vaults"] is None


def test_create_vault_with_a_backup_policy(api: Api) -> None:
    policy = _policy(api)
    vault = api.vault(backup_policy_id=policy["id"])
    assert api.ok("list_policies", query=[("vault_id", vault["id"])])["count"] == 1
    api.refused(
        "create_vault",
        "6000",
        body={
            "vault": {
                "name": "v",
                "resources": [],
                "backup_policy_id": "missing",
                "billing": {
                    "object_type": "server",
                    "protect_type": "backup",
                    "consistent_level": "crash_consistent",
                    "size": 10,
                },
            }
        },
    )


def test_policies_that_do_not_fit_the_vault_are_refused(api: Api, away: Api) -> None:
    replica_vault = api.vault(protect_type="replication")
    backup_policy = _policy(api)
    api.refused(
        "associate_vault_policy",
        "6127",
        path={"vault_id": replica_vault["id"]},
        body={"policy_id": backup_policy["id"]},
    )
    target = away.vault(protect_type="replication", name="target")
    replication = _policy(
        api,
        "replication",
        destination_region=away.tenant.region,
        destination_project_id=away.tenant.project_id,
    )
    vault = api.vault(name="source")
    path = {"vault_id": vault["id"]}
    api.refused("associate_vault_policy", "9900", path=path, body={"policy_id": replication["id"]})
    api.refused(
        "associate_vault_policy",
        "6120",
        path=path,
        body={"policy_id": replication["id"], "destination_vault_id": "nope"},
    )
    answer = api.ok(
        "associate_vault_policy",
        path=path,
        body={"policy_id": replication["id"], "destination_vault_id": target["id"]},
    )
    assert answer["associate_policy"]["destination_vault_id"] == target["id"]


def test_show_summary_totals_size_and_use(api: Api) -> None:
    vault = api.vault(resources=api.servers()[:1], size=300)
    api.vault(name="two", size=700)
    api.backup_run(vault["id"])
    settle(api)
    summary = api.ok("show_summary")
    sdk_parse("ShowSummaryResponse", summary)
    used = api.ok("show_vault", path={"vault_id": vault["id"]})["vault"]["billing"]["used"]
    assert used == api.servers()[0].size_gb * 1024
    assert summary == {"size": 1000, "used_size": used}


def test_a_full_vault_refuses_new_backups(api: Api) -> None:
    server = api.servers()[1]
    vault = api.vault(resources=[server], size=server.size_gb)  # room for one full backup, exactly
    api.backup_run(vault["id"])
    settle(api)
    assert (
        api.ok("show_vault", path={"vault_id": vault["id"]})["vault"]["billing"]["allocated"]
        == server.size_gb
    )
    api.refused("create_checkpoint", "6114", body={"checkpoint": {"vault_id": vault["id"]}})


def test_a_backup_that_would_overfill_its_vault_is_refused_and_starts_nothing(api: Api) -> None:
    first, second = api.servers()[:2]
    vault = api.vault(resources=[first, second], size=first.size_gb + second.size_gb - 1)
    error = api.refused("create_checkpoint", "6114", body={"checkpoint": {"vault_id": vault["id"]}})
    assert f"{first.size_gb + second.size_gb:.1f} GB" in error.message  # what the new backups need
    assert (api.state.checkpoints, api.state.backups, api.state.op_logs) == ({}, {}, {})
    api.backup_run(vault["id"], resources=[first.id])  # one of them fits


def test_backups_still_running_count_against_the_room_left_and_incremental_ones_store_less(api: Api) -> None:
    first, second = api.servers()[:2]
    vault = api.vault(resources=[first, second], size=first.size_gb + second.size_gb // 2)
    api.backup_run(vault["id"], resources=[first.id])  # running: its size is taken already
    api.refused("create_checkpoint", "6114", body={"checkpoint": {"vault_id": vault["id"]}})
    api.refused(
        "create_checkpoint",
        "6114",
        body={"checkpoint": {"vault_id": vault["id"], "parameters": {"resources": [second.id]}}},
    )
    settle(api)
    api.backup_run(vault["id"], resources=[first.id])  # incremental: a twentieth of it
    settle(api)
    used = api.ok("show_vault", path={"vault_id": vault["id"]})["vault"]["billing"]["used"]
    assert used == first.size_gb * 1024 + first.size_gb * 1024 // 20 <= vault["billing"]["size"] * 1024


def test_an_auto_expanding_vault_takes_any_backup(api: Api) -> None:
    servers = api.servers()[:3]
    vault = api.vault(resources=servers, size=10, auto_expand=True)
    api.backup_run(vault["id"])
    settle(api)
    used = api.ok("show_vault", path={"vault_id": vault["id"]})["vault"]["billing"]["used"]
    assert used == sum(s.size_gb for s in servers) * 1024 > 10 * 1024


def test_projects_do_not_see_each_others_vaults(api: Api, neighbour: Api) -> None:
    vault = api.vault()
    neighbour.refused("show_vault", "6105", path={"vault_id": vault["id"]})
    assert neighbour.ok("list_vault")["count"] == 0
