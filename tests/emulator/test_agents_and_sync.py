"""Agents' path rules and sync tasks on a hand-driven clock."""

from __future__ import annotations

import uuid

from emu_helpers import Api, settle


def _agent(api: Api) -> str:
    agent_id = str(uuid.uuid4())
    body = {"agent": {"agent_id": agent_id, "host_name": "h", "host_ip": "::1", "host_os": "windows"}}
    api.ok("register_agent", body=body)
    return agent_id


def test_windows_and_root_paths_keep_their_root_and_lose_a_trailing_separator(api: Api) -> None:
    agent_id = _agent(api)
    answer = api.ok(
        "add_agent_path",
        path={"agent_id": agent_id},
        body={"add_path": ["C:\\", "D:\\data\\", "/", "/srv//"]},
    )
    assert answer == {"added": ["C:\\", "D:\\data", "/", "/srv"], "existed": []}
    again = api.ok("add_agent_path", path={"agent_id": agent_id}, body={"add_path": ["D:\\data"]})
    assert again == {"added": [], "existed": ["D:\\data"]}


def test_an_import_running_on_a_resource_refuses_another_until_it_ends(api: Api) -> None:
    server, other = api.servers()[:2]
    billing = {"object_type": "server", "protect_type": "backup", "consistent_level": "crash_consistent"}
    resources = [{"id": server.id, "type": "OS::Nova::Server"}]
    body = {
        "vault": {
            "name": "hybrid",
            "billing": {**billing, "size": 100, "cloud_type": "hybrid"},
            "resources": resources,
        }
    }
    hybrid = api.ok("create_vault", body=body)["vault"]
    item = {
        "backup_id": str(uuid.uuid4()),
        "backup_name": "copy",
        "bucket_name": "bucket",
        "image_path": "a/b",
        "resource_id": server.id,
        "resource_name": server.name,
        "resource_type": "OS::Nova::Server",
        "created_at": 1_700_000_000,
    }
    api.refused("import_backup", "7300", 400, body={"sync": [{**item, "resource_id": other.id}]})
    (started,) = api.ok("import_backup", body={"sync": [item]})["sync"]
    log = api.ok("show_op_log", path={"operation_log_id": started["operation_log_id"]})["operation_log"]
    assert log["status"] in ("waiting", "running")
    second = {**item, "backup_id": str(uuid.uuid4())}
    api.refused("import_backup", "7302", 400, body={"sync": [second]})
    again = {"sync": {"vault_id": hybrid["id"], "auto_trigger": False}}
    api.refused("import_checkpoint", "7302", 400, body=again)  # the vault is receiving a copy
    settle(api)
    imported = api.backup(item["backup_id"])
    assert (imported["vault_id"], imported["image_type"], imported["status"]) == (
        hybrid["id"],
        "backup",
        "available",
    )
    api.ok("import_backup", body={"sync": [second]})
    settle(api)
    synced = api.ok("import_checkpoint", body=again)["sync"]
    settle(api)
    log = api.ok("show_op_log", path={"operation_log_id": synced["operation_log_id"]})["operation_log"]
    assert log["extra_info"]["sync"]["sync_backup_num"] == 2
