"""Vault tags, backup sharing, protectable resources and storage usage."""

from __future__ import annotations

from typing import Any

from emu_helpers import Api, settle
from sdk_parse import sdk_parse

# --- tags ----------------------------------------------------------------------------------------


def _tags(api: Api, vault: dict[str, Any]) -> dict[str, str]:
    answer = api.ok("show_vault_tag", path={"vault_id": vault["id"]})
    sdk_parse("ShowVaultTagResponse", answer)
    return {t["key"]: t["value"] for t in answer["tags"]}


def test_create_overwrite_and_delete_vault_tags(api: Api) -> None:
    vault = api.vault(tags=[{"key": "env", "value": "dev"}])
    path = {"vault_id": vault["id"]}
    response = api.send("create_vault_tags", path=path, body={"tag": {"key": " team ", "value": "ops"}})
    assert (response.status, response.body) == (204, None)
    api.ok("create_vault_tags", path=path, body={"tag": {"key": "env", "value": "prod"}})
    assert _tags(api, vault) == {"env": "prod", "team": "ops"}
    assert api.send("delete_vault_tag", path={**path, "key": "team"}).status == 204
    api.refused("delete_vault_tag", "6601", 404, path={**path, "key": "team"})
    assert _tags(api, vault) == {"env": "prod"}
    api.refused("show_vault_tag", "6105", 404, path={"vault_id": "missing"})


def test_batch_tags(api: Api) -> None:
    vault = api.vault()
    path = {"vault_id": vault["id"]}
    create = {"action": "create", "tags": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]}
    assert api.send("batch_create_and_delete_vault_tags", path=path, body=create).status == 204
    delete = {"action": "delete", "tags": [{"key": "a"}, {"key": "absent"}]}
    api.ok("batch_create_and_delete_vault_tags", path=path, body=delete)
    assert _tags(api, vault) == {"b": "2"}
    twice = {"action": "create", "tags": [{"key": "c", "value": "1"}, {"key": "c", "value": "2"}]}
    api.refused("batch_create_and_delete_vault_tags", "9900", path=path, body=twice)
    api.refused(
        "batch_create_and_delete_vault_tags", "9900", path=path, body={"action": "upsert", "tags": []}
    )
    api.refused(
        "batch_create_and_delete_vault_tags",
        "9900",
        path=path,
        body={"action": "create", "tags": [{"key": "d"}]},
    )
    assert _tags(api, vault) == {"b": "2"}


def test_tag_limits_and_characters(api: Api) -> None:
    vault = api.vault()
    path = {"vault_id": vault["id"]}
    for key, value in [("a=b", "x"), ("", "x"), ("k" * 37, "x"), ("ok", "v" * 44), ("ok", "a/b")]:
        api.refused("create_vault_tags", "9900", path=path, body={"tag": {"key": key, "value": value}})
    api.ok("create_vault_tags", path=path, body={"tag": {"key": "标签_1-x", "value": "v1.0"}})
    for number in range(19):
        api.ok("create_vault_tags", path=path, body={"tag": {"key": f"k{number}", "value": ""}})
    api.refused("create_vault_tags", "6600", path=path, body={"tag": {"key": "one-too-many", "value": "x"}})
    assert len(_tags(api, vault)) == 20


def test_project_tags_and_resource_instances(api: Api) -> None:
    first = api.vault(
        name="alpha-vault", tags=[{"key": "env", "value": "dev"}, {"key": "team", "value": "a"}]
    )
    second = api.vault(name="beta-vault", tags=[{"key": "env", "value": "prod"}])
    third = api.vault(name="gamma", object_type="disk")
    project_tags = api.ok("show_vault_project_tag")
    sdk_parse("ShowVaultProjectTagResponse", project_tags)
    assert project_tags == {
        "tags": [{"key": "env", "values": ["dev", "prod"]}, {"key": "team", "values": ["a"]}]
    }

    def query(**body: Any) -> list[str]:
        answer = api.ok("show_vault_resource_instances", body={"action": "filter", **body})
        sdk_parse("ShowVaultResourceInstancesResponse", answer)
        return [r["resource_id"] for r in answer["resources"]]

    assert query(tags=[{"key": "env", "values": []}]) == [first["id"], second["id"]]
    assert query(tags=[{"key": "env", "values": ["prod"]}]) == [second["id"]]
    assert query(tags=[{"key": "env", "values": ["*ro"]}]) == [second["id"]]
    assert query(not_tags=[{"key": "team", "values": []}]) == [second["id"], third["id"]]
    assert query(tags_any=[{"key": "team", "values": []}, {"key": "env", "values": ["prod"]}]) == [
        first["id"],
        second["id"],
    ]
    assert query(without_any_tag=True) == [third["id"]]
    assert query(matches=[{"key": "resource_name", "value": "-vault"}]) == [first["id"], second["id"]]
    assert query(object_type="disk") == [third["id"]]
    assert query(limit="1", offset="1") == [second["id"]]
    count = api.ok("show_vault_resource_instances", body={"action": "count"})
    assert count == {"total_count": 3}
    api.refused("show_vault_resource_instances", "9900", body={"action": "filter", "limit": 5})
    api.refused("show_vault_resource_instances", "9900", body={"action": "filter", "limit": "0"})
    api.refused("show_vault_resource_instances", "9900", body={"action": "sum"})


# --- members -------------------------------------------------------------------------------------


def _shareable(api: Api) -> dict[str, Any]:
    vault = api.vault(resources=api.servers()[:1])
    api.backup_run(vault["id"])
    settle(api)
    return api.backups()[0]


def test_share_accept_list_and_withdraw(api: Api, neighbour: Api) -> None:
    backup = _shareable(api)
    path = {"backup_id": backup["id"]}
    me, them = api.tenant.project_id, neighbour.tenant.project_id
    added = api.ok("add_member", path=path, body={"members": [them]})
    sdk_parse("AddMemberResponse", added)
    (member,) = added["members"]
    assert (member["status"], member["dest_project_id"], member["backup_id"]) == (
        "pending",
        them,
        backup["id"],
    )
    listed = api.ok("show_members_detail", path=path)
    sdk_parse("ShowMembersDetailResponse", listed)
    assert listed["count"] == 1
    assert api.ok("show_members_detail", path=path, query=[("status", "accepted")])["count"] == 0
    member_path = {**path, "member_id": them}
    sdk_parse("ShowMemberDetailResponse", api.ok("show_member_detail", path=member_path))
    api.refused(
        "update_member_status", "6706", path=member_path, body={"status": "accepted", "vault_id": "x"}
    )
    target = neighbour.vault(name="accepting")
    neighbour.refused("update_member_status", "9900", path=member_path, body={"status": "accepted"})
    neighbour.refused("update_member_status", "9900", path=member_path, body={"status": "maybe"})
    neighbour.refused(
        "update_member_status", "6105", path=member_path, body={"status": "accepted", "vault_id": "gone"}
    )
    accepted = neighbour.ok(
        "update_member_status", path=member_path, body={"status": "accepted", "vault_id": target["id"]}
    )
    sdk_parse("UpdateMemberStatusResponse", accepted)
    assert (accepted["member"]["status"], accepted["member"]["vault_id"]) == ("accepted", target["id"])
    assert [b["id"] for b in neighbour.backups(own_type="shared", member_status="accepted")] == [backup["id"]]
    api.refused("show_member_detail", "6705", 404, path={**path, "member_id": me})
    assert api.send("delete_member", path=member_path).status == 204
    api.refused("delete_member", "6705", 404, path=member_path)
    assert neighbour.backups(own_type="shared") == []


def test_sharing_rules(api: Api, neighbour: Api) -> None:
    backup = _shareable(api)
    path = {"backup_id": backup["id"]}
    them = neighbour.tenant.project_id
    api.refused("add_member", "6704", path=path, body={"members": [api.tenant.project_id]})
    api.refused("add_member", "6704", path=path, body={"members": ["not-a-project"]})
    api.refused("add_member", "9900", path=path, body={"members": []})
    api.ok("add_member", path=path, body={"members": [them]})
    api.refused("add_member", "6714", path=path, body={"members": [them]})
    many = [f"{n:032x}" for n in range(1, 11)]
    api.refused("add_member", "6701", path=path, body={"members": many})
    disk_vault = api.vault(name="disks", object_type="disk", resources=api.standalone_disks()[:1])
    api.backup_run(disk_vault["id"], name="disk")
    (disk_backup,) = api.backups(name="disk")
    api.refused("add_member", "6700", path={"backup_id": disk_backup["id"]}, body={"members": [them]})
    api.backup_run(backup["vault_id"], name="fresh")
    (fresh,) = api.backups(name="fresh")
    api.refused("add_member", "6702", path={"backup_id": fresh["id"]}, body={"members": [them]})


# --- protectables and usage ----------------------------------------------------------------------


def test_list_and_show_protectables(api: Api) -> None:
    servers = api.servers()
    vault = api.vault(resources=servers[:1])
    listed = api.ok("list_protectable", path={"protectable_type": "server"})
    sdk_parse("ListProtectableResponse", listed)
    instances = listed["instances"]
    assert [i["id"] for i in instances] == [s.id for s in servers]
    assert instances[0]["protectable"]["vault"]["id"] == vault["id"]
    assert instances[0]["protectable"]["result"] is True
    assert instances[1]["protectable"]["vault"] is None
    assert [c["id"] for c in instances[0]["children"]] == [d.id for d in servers[0].disks]
    assert instances[0]["size"] == servers[0].size_gb
    assert instances[0]["type"] == "OS::Nova::Server"
    disks = api.ok(
        "list_protectable", path={"protectable_type": "disk"}, query=[("server_id", servers[2].id)]
    )
    assert [d["id"] for d in disks["instances"]] == [d.id for d in servers[2].disks]
    named = api.ok("list_protectable", path={"protectable_type": "server"}, query=[("name", "ecs-0003")])
    assert [i["name"] for i in named["instances"]] == ["ecs-0003"]
    page = api.ok(
        "list_protectable",
        path={"protectable_type": "server"},
        query=[("limit", "2"), ("marker", servers[1].id)],
    )
    assert [i["id"] for i in page["instances"]] == [s.id for s in servers[2:4]]
    assert api.ok("list_protectable", path={"protectable_type": "turbo"}) == {"instances": []}
    api.refused("list_protectable", "9900", path={"protectable_type": "database"})
    api.refused("list_protectable", "9900", path={"protectable_type": "server"}, query=[("limit", "51")])
    shown = api.ok("show_protectable", path={"protectable_type": "server", "instance_id": servers[0].id})
    sdk_parse("ShowProtectableResponse", shown)
    assert shown["instance"]["name"] == servers[0].name
    api.refused("show_protectable", "6302", 404, path={"protectable_type": "server", "instance_id": "gone"})
    api.refused(
        "show_protectable", "6302", 404, path={"protectable_type": "disk", "instance_id": servers[0].id}
    )


def test_inventory_is_deterministic_and_shaped_by_the_settings(api: Api, away: Api) -> None:
    from emu_helpers import build

    again = Api(build())
    assert [s.id for s in again.servers()] == [s.id for s in api.servers()]
    assert [s.name for s in api.servers()] == [f"ecs-{n:04d}" for n in range(1, 7)]
    assert all(len(s.disks) == 2 and s.disks[0].bootable and not s.disks[1].bootable for s in api.servers())
    assert len(api.standalone_disks()) == 4
    assert {s.id for s in away.servers()}.isdisjoint({s.id for s in api.servers()})
    bigger = Api(build(servers=3, disks=0, data_disks=3))
    assert [len(s.disks) for s in bigger.servers()] == [4, 4, 4]
    assert bigger.standalone_disks() == []


def test_storage_usage(api: Api) -> None:
    servers = api.servers()
    vault = api.vault(resources=servers[:2])
    api.backup_run(vault["id"])
    settle(api)
    api.backup_run(vault["id"], resources=[servers[0].id])
    settle(api)
    usage = api.ok("show_storage_usage")
    sdk_parse("ShowStorageUsageResponse", usage)
    rows = {row["resource_id"]: row for row in usage["storage_usage"]}
    assert usage["resource_count"] == 2
    assert rows[servers[0].id]["backup_count"] == 2
    assert rows[servers[1].id]["backup_count"] == 1
    one = api.ok("show_storage_usage", query=[("resource_id", servers[1].id)])
    assert [r["resource_id"] for r in one["storage_usage"]] == [servers[1].id]
    assert api.ok("show_storage_usage", query=[("limit", "1")])["resource_count"] == 2
    api.refused("show_storage_usage", "9900", query=[("resource_type", "VM")])
