"""File-backup agents: registration, backup paths, uninstallation and presence on servers."""

from __future__ import annotations

import uuid
from typing import Any

import huaweicloudsdkcbr.v1.model as cbr
from cbr_contract_harness import SERVER, Pool, RecordingCbrClient, expect_error


def _register(client: RecordingCbrClient, host_name: str = "host-1", **extra: Any) -> Any:
    agent = cbr.AgentRegister(
        agent_id=extra.pop("agent_id", str(uuid.uuid4())),
        host_name=host_name,
        host_ip=extra.pop("host_ip", "192.168.10.144"),
        host_os="linux",
        **extra,
    )
    return client.register_agent(cbr.RegisterAgentRequest(body=cbr.AgentRegisterReq(agent=agent))).agent


def _add(client: RecordingCbrClient, agent_id: str, paths: list[str], **extra: Any) -> Any:
    return client.add_agent_path(
        cbr.AddAgentPathRequest(agent_id=agent_id, body=cbr.AgentAddPathReq(add_path=paths, **extra))
    )


def test_an_agent_is_registered_listed_shown_and_unregistered(cbr_a: RecordingCbrClient) -> None:
    agent = _register(cbr_a, agent_version="1.0.0", agent_type="native", host_nickname="files")
    assert (agent.host_name, agent.host_ip, agent.host_os) == ("host-1", "192.168.10.144", "linux")
    assert (agent.agent_version, agent.agent_type, agent.host_nickname) == ("1.0.0", "native", "files")
    assert agent.status == "normal"
    assert agent.paths is None
    assert agent.created_at and agent.last_active_time

    shown = cbr_a.show_agent(cbr.ShowAgentRequest(agent_id=agent.agent_id)).agent
    assert shown.agent_id == agent.agent_id
    listed = cbr_a.list_agent(cbr.ListAgentRequest(agent_id=[agent.agent_id]))
    assert listed.count == 1
    assert [a.agent_id for a in listed.agents] == [agent.agent_id]

    again = _register(cbr_a, agent_id=agent.agent_id, host_ip="10.0.0.9")
    assert again.host_ip == "10.0.0.9"
    assert again.created_at == agent.created_at, "registering again updates the agent"

    uninstalled = cbr_a.update_agent(
        cbr.UpdateAgentRequest(
            agent_id=agent.agent_id, body=cbr.AgentUpdateReq(agent=cbr.AgentUpdate(status="uninstall"))
        )
    ).agent
    assert uninstalled.status == "uninstall"
    by_status = cbr_a.list_agent(cbr.ListAgentRequest(status="uninstall")).agents
    assert agent.agent_id in {a.agent_id for a in by_status}
    assert agent.agent_id not in {
        a.agent_id for a in cbr_a.list_agent(cbr.ListAgentRequest(status="normal")).agents
    }

    cbr_a.unregister_agent(cbr.UnregisterAgentRequest(agent_id=agent.agent_id))
    expect_error(
        lambda: cbr_a.show_agent(cbr.ShowAgentRequest(agent_id=agent.agent_id)), 404, "BackupService.7410"
    )
    expect_error(
        lambda: cbr_a.unregister_agent(cbr.UnregisterAgentRequest(agent_id=agent.agent_id)),
        404,
        "BackupService.7410",
    )


def test_agent_requests_are_validated(cbr_a: RecordingCbrClient) -> None:
    expect_error(lambda: _register(cbr_a, agent_id="not-an-agent-id"), 400, "BackupService.7403")
    expect_error(lambda: _register(cbr_a, host_ip="300.1.1.1"), 400, "BackupService.9900")
    expect_error(lambda: _register(cbr_a, agent_version="1.0"), 400, "BackupService.9900")
    expect_error(lambda: _register(cbr_a, agent_type="remote"), 400, "BackupService.9900")
    expect_error(lambda: cbr_a.show_agent(cbr.ShowAgentRequest(agent_id="x")), 400, "BackupService.7403")
    agent = _register(cbr_a)
    expect_error(
        lambda: cbr_a.update_agent(
            cbr.UpdateAgentRequest(
                agent_id=agent.agent_id, body=cbr.AgentUpdateReq(agent=cbr.AgentUpdate(status="normal"))
            )
        ),
        400,
        "BackupService.9900",
    )
    expect_error(lambda: cbr_a.list_agent(cbr.ListAgentRequest(limit="0")), 400, "BackupService.9900")


def test_backup_paths_are_added_excluded_and_removed(cbr_a: RecordingCbrClient) -> None:
    agent = _register(cbr_a)
    first = _add(cbr_a, agent.agent_id, ["/opt/workspace/", "/home/hcp"])
    assert first.added == ["/opt/workspace", "/home/hcp"]
    assert first.existed == []
    second = _add(
        cbr_a,
        agent.agent_id,
        ["/home/hcp", "/var/log"],
        exclude_path=[cbr.ExcludePath(path_name="/home/hcp", exclude_path_name=["/home/hcp/cache"])],
    )
    assert (second.added, second.existed) == (["/var/log"], ["/home/hcp"])

    paths = cbr_a.show_agent(cbr.ShowAgentRequest(agent_id=agent.agent_id)).agent.paths
    by_dir = {p.dir_path: p for p in paths}
    assert set(by_dir) == {"/opt/workspace", "/home/hcp", "/var/log"}
    assert by_dir["/home/hcp"].exclude_paths == "/home/hcp/cache"
    assert all(p.status == "available" and p.agent_id == agent.agent_id and p.id for p in paths)

    removed = cbr_a.remove_agent_path(
        cbr.RemoveAgentPathRequest(
            agent_id=agent.agent_id, body=cbr.AgentRemovePathReq(remove_path=["/var/log", "/srv"])
        )
    )
    assert (removed.removed, removed.not_existed) == (["/var/log"], ["/srv"])
    left = cbr_a.show_agent(cbr.ShowAgentRequest(agent_id=agent.agent_id)).agent.paths
    assert {p.dir_path for p in left} == {"/opt/workspace", "/home/hcp"}

    expect_error(lambda: _add(cbr_a, agent.agent_id, ["relative/dir"]), 400, "BackupService.9900")
    expect_error(
        lambda: _add(
            cbr_a,
            agent.agent_id,
            ["/data"],
            exclude_path=[cbr.ExcludePath(path_name="/data", exclude_path_name=["/elsewhere"])],
        ),
        400,
        "BackupService.9900",
    )
    expect_error(
        lambda: _add(cbr_a, agent.agent_id, [f"/data/{n}" for n in range(63)]), 400, "BackupService.7407"
    )
    expect_error(lambda: _add(cbr_a, str(uuid.uuid4()), ["/data"]), 404, "BackupService.7410")


def test_check_agent_finds_the_agent_registered_under_the_servers_name(
    cbr_a: RecordingCbrClient, pool_a: Pool
) -> None:
    with_agent, without = pool_a.server(), pool_a.server()
    _register(cbr_a, host_name=with_agent.name, agent_version="1.0.3", agent_type="cloud")
    answer = cbr_a.check_agent(
        cbr.CheckAgentRequest(
            body=cbr.ProtectableAgentReq(
                agent_status=[
                    cbr.ProtectableAgentStatusResource(
                        resource_id=s.id, resource_type=SERVER, resource_name=s.name
                    )
                    for s in (with_agent, without)
                ]
            )
        )
    ).agent_status
    found = {status.resource_id: status for status in answer}
    assert found[with_agent.id].installed is True
    assert found[with_agent.id].version == "1.0.3"
    assert found[with_agent.id].is_old is False
    assert found[without.id].installed is False
    assert found[without.id].version is None

    def check(resource_id: str, resource_type: str = SERVER) -> Any:
        item = cbr.ProtectableAgentStatusResource(resource_id=resource_id, resource_type=resource_type)
        return cbr_a.check_agent(cbr.CheckAgentRequest(body=cbr.ProtectableAgentReq(agent_status=[item])))

    expect_error(lambda: check(str(uuid.uuid4())), 404, "BackupService.6302")
    expect_error(lambda: check(without.id, "OS::Cinder::Volume"), 400, "BackupService.9900")
