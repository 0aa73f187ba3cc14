"""GET /_emulator/inventory: each tenant's servers with their disks, standalone disks, the vault each is
bound to and its newest backup (with the disk backups a restore maps); filters; bad queries."""

from __future__ import annotations

from typing import Any

from emulator_http_harness import ALICE, ALICE_EU, BOB, Http, assert_gateway_error, vault_request

from cbr_emulator.config import Inventory


async def inventory(http: Http, query: str = "") -> dict[str, Any]:
    answer = await http.admin("GET", f"inventory{query}")
    assert answer.status == 200, answer.text
    listed: dict[str, Any] = answer.json
    return listed


def project(listed: dict[str, Any], project_id: str) -> dict[str, Any]:
    found = [p for p in listed["projects"] if p["project_id"] == project_id]
    assert len(found) == 1, listed["projects"]
    return found[0]


async def test_every_tenant_project_is_listed_with_servers_disks_and_sizes(http: Http) -> None:
    listed = await inventory(http)
    wanted = {(t.region, t.project_id) for t in (ALICE, ALICE_EU, BOB)}
    assert {(p["region"], p["project_id"]) for p in listed["projects"]} == wanted
    alice = project(listed, ALICE.project_id)
    defaults = Inventory()
    assert len(alice["servers"]) == defaults.servers
    assert len(alice["disks"]) == defaults.disks
    server = alice["servers"][0]
    assert server["name"] == "ecs-0001" and server["type"] == "OS::Nova::Server"
    assert len(server["disks"]) == defaults.data_disks_per_server + 1
    assert server["size_gb"] == sum(d["size_gb"] for d in server["disks"])
    assert [d["device"] for d in server["disks"]] == ["/dev/vda", "/dev/vdb"]
    assert all("device" not in d and d["type"] == "OS::Cinder::Volume" for d in alice["disks"])
    assert server["vault"] is None and server["latest_backup"] is None


async def test_the_ids_are_those_the_cbr_api_lists(http: Http) -> None:
    answer = await http.signed("GET", "/protectables/server/instances", query=[("limit", "50")])
    assert answer.status == 200, answer.text
    api_ids = {server["id"] for server in answer.json["instances"]}
    listed = project(await inventory(http), ALICE.project_id)
    assert {server["id"] for server in listed["servers"]} == api_ids


async def test_a_backed_up_server_shows_its_vault_and_newest_backup_with_its_disk_backups(http: Http) -> None:
    server = project(await inventory(http), ALICE.project_id)["servers"][0]
    body = vault_request("listed")
    body["vault"]["resources"] = [{"id": server["id"], "type": server["type"]}]
    body["vault"]["billing"]["size"] = 10 * server["size_gb"]  # room for two full backups
    vault = await http.signed("POST", "/vaults", json_body=body)
    assert vault.status == 200, vault.text
    vault_id = vault.json["vault"]["id"]
    checkpoints = []
    for _ in range(2):
        answer = await http.signed("POST", "/checkpoints", json_body={"checkpoint": {"vault_id": vault_id}})
        assert answer.status == 200, answer.text
        checkpoints.append(answer.json["checkpoint"]["id"])
        await http.admin("POST", "clock/advance", {"seconds": 60})

    shown = project(await inventory(http), ALICE.project_id)["servers"][0]
    assert shown["vault"] == {"id": vault_id, "name": "listed"}
    latest = shown["latest_backup"]
    assert latest["checkpoint_id"] == checkpoints[-1] and latest["vault_id"] == vault_id
    backups = await http.signed("GET", "/backups", query=[("checkpoint_id", checkpoints[-1])])
    assert [b["id"] for b in backups.json["backups"]] == [latest["id"]]
    pairs = latest["disk_backups"]
    assert sorted(pair["volume_id"] for pair in pairs) == sorted(disk["id"] for disk in shown["disks"])
    assert all(pair["backup_id"] != latest["id"] for pair in pairs)
    other = project(await inventory(http), ALICE.project_id)["servers"][1]
    assert other["vault"] is None and other["latest_backup"] is None


async def test_filters_choose_projects_and_a_filter_matching_none_is_404(http: Http) -> None:
    by_region = await inventory(http, "?region=eu-west-101")
    assert {p["project_id"] for p in by_region["projects"]} == {ALICE_EU.project_id, BOB.project_id}
    by_project = await inventory(http, f"?project_id={BOB.project_id}&region=")
    assert [p["project_id"] for p in by_project["projects"]] == [BOB.project_id]
    missing = await http.admin("GET", f"inventory?region=ap-southeast-1&project_id={BOB.project_id}")
    error = assert_gateway_error(missing, 404, "EMULATOR.0404")
    assert "region ap-southeast-1" in error["error_msg"]


async def test_an_unknown_query_parameter_is_400(http: Http) -> None:
    answer = await http.admin("GET", "inventory?tenant=alice")
    error = assert_gateway_error(answer, 400, "EMULATOR.0400")
    assert "'tenant'" in error["error_msg"]
