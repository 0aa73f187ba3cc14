"""File-backup agents: the clients hosts register, the directories they back up, their presence on servers.

The seed's error table has no agent codes; the three used here (7403, 7407, 7410) are the ones the
API Explorer lists for these operations, with its English messages.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from cbr_emulator.clock import stamp, stamp_optional
from cbr_emulator.context import Call
from cbr_emulator.errors import CbrError
from cbr_emulator.inventory import SERVER_TYPE
from cbr_emulator.state import Agent, AgentPath, ProjectState
from cbr_emulator.validation import Body, Id

MAX_PATHS = 64  # per agent; the real threshold is not published
CURRENT_VERSION = (1, 0, 0)  # agents reporting an older version are ``is_old``
STATUSES = ("normal", "abnormal", "uninstall")
AGENT_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
WINDOWS_ROOT = re.compile(r"^[A-Za-z]:\\")
Text255 = Annotated[str, Field(min_length=1, max_length=255)]
DirPath = Annotated[str, Field(min_length=1, max_length=1024)]


# --- request bodies ------------------------------------------------------------------------------


class AgentRegister(Body):
    agent_id: Annotated[str, Field(min_length=1, max_length=64)]
    host_name: Text255
    host_ip: str
    host_os: Annotated[str, Field(min_length=1, max_length=64)]
    host_nickname: Annotated[str, Field(max_length=255)] | None = None
    agent_version: Annotated[str, Field(pattern=r"^((\d){1,3}\.){2}(\d){1,3}$")] | None = None
    agent_type: Literal["cloud", "native"] | None = None

    @field_validator("host_ip")
    @classmethod
    def _ip(cls, value: str) -> str:
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise ValueError("host_ip must be an IPv4 or IPv6 address") from None


class AgentRegisterReq(Body):
    agent: AgentRegister


class AgentUpdate(Body):
    status: Literal["uninstall"]


class AgentUpdateReq(Body):
    agent: AgentUpdate


class ExcludePath(Body):
    path_name: DirPath | None = None
    exclude_path_name: Annotated[list[DirPath], Field(max_length=MAX_PATHS)] | None = None


class AgentAddPathReq(Body):
    add_path: Annotated[list[DirPath], Field(min_length=1, max_length=MAX_PATHS)]
    exclude_path: Annotated[list[ExcludePath], Field(max_length=MAX_PATHS)] | None = None


class AgentRemovePathReq(Body):
    remove_path: Annotated[list[DirPath], Field(min_length=1, max_length=MAX_PATHS)]


class AgentStatusQuery(Body):
    resource_id: Id
    resource_type: Literal["OS::Nova::Server", "OS::Ironic::BareMetalServer"]
    resource_name: Annotated[str, Field(max_length=255)] | None = None


class ProtectableAgentReq(Body):
    agent_status: Annotated[list[AgentStatusQuery], Field(min_length=1, max_length=100)]


# --- errors and rendering ------------------------------------------------------------------------


def invalid_agent(agent_id: str) -> CbrError:
    return CbrError(400, "BackupService.7403", f"Invalid agent {agent_id}")


def agent_not_found(agent_id: str) -> CbrError:
    return CbrError(404, "BackupService.7410", f"Agent {agent_id} not found.")


def too_many_paths(agent_id: str) -> CbrError:
    return CbrError(400, "BackupService.7407", f"Agent {agent_id} path count is exceeded.")


def render(agent: Agent) -> dict[str, Any]:
    """An agent in the shape of the SDK's ``Agent`` model (``paths`` null when it has none)."""
    return {
        "agent_id": agent.id,
        "agent_type": agent.agent_type,
        "agent_version": agent.agent_version,
        "created_at": stamp(agent.created_at),
        "host_ip": agent.host_ip,
        "host_name": agent.host_name,
        "host_nickname": agent.host_nickname,
        "host_os": agent.host_os,
        "last_active_time": stamp_optional(agent.last_active_at),
        "paths": [_render_path(agent, p) for p in agent.paths.values()] or None,
        "status": agent.status,
        "updated_at": stamp(agent.updated_at),
    }


def _render_path(agent: Agent, path: AgentPath) -> dict[str, Any]:
    return {
        "id": path.id,
        "status": "available",
        "agent_id": agent.id,
        "dir_path": path.dir_path,
        "exclude_paths": ",".join(path.exclude_paths) or None,
    }


def find_agent(project: ProjectState, agent_id: str) -> Agent:
    if not AGENT_ID.fullmatch(agent_id):
        raise invalid_agent(agent_id)
    agent = project.agents.get(agent_id.lower())
    if agent is None:
        raise agent_not_found(agent_id)
    return agent


# --- registration --------------------------------------------------------------------------------


def register_agent(call: Call) -> dict[str, Any]:
    """Register a host's agent; a known agent re-registering is brought up to date and back to normal."""
    request = call.body(AgentRegisterReq).agent
    if not AGENT_ID.fullmatch(request.agent_id):
        raise invalid_agent(request.agent_id)
    agent_id = request.agent_id.lower()
    agent = call.project.agents.get(agent_id)
    if agent is None:
        agent = Agent(agent_id, request.host_name, request.host_ip, request.host_os, call.now, call.now)
        call.project.agents[agent_id] = agent
    agent.host_name, agent.host_ip, agent.host_os = request.host_name, request.host_ip, request.host_os
    agent.host_nickname = request.host_nickname or agent.host_nickname
    agent.agent_version = request.agent_version or agent.agent_version
    agent.agent_type = request.agent_type or agent.agent_type
    agent.status = "normal"
    agent.updated_at = agent.last_active_at = call.now
    return {"agent": render(agent)}


def show_agent(call: Call) -> dict[str, Any]:
    return {"agent": render(find_agent(call.project, call.path("agent_id")))}


def list_agent(call: Call) -> dict[str, Any]:
    query = call.query
    limit = query.number("limit", 1000, 1, 1000)
    offset = query.number("offset", 0, 0)
    status = query.choice("status", STATUSES)
    ids = {agent_id.lower() for agent_id in query.texts("agent_id")}
    found = [
        agent
        for agent in call.project.agents.values()
        if status in (None, agent.status) and (not ids or agent.id in ids)
    ]
    found.sort(key=lambda agent: agent.created_at, reverse=True)
    return {
        "agents": [render(agent) for agent in found[offset : offset + limit]],
        "count": len(found),
        "limit": limit,
        "offset": offset,
    }


def update_agent(call: Call) -> dict[str, Any]:
    """The only change an agent reports is its own uninstallation."""
    agent = find_agent(call.project, call.path("agent_id"))
    agent.status = call.body(AgentUpdateReq).agent.status
    agent.updated_at = call.now
    return {"agent": render(agent)}


def unregister_agent(call: Call) -> None:
    agent = find_agent(call.project, call.path("agent_id"))
    del call.project.agents[agent.id]


# --- backup paths --------------------------------------------------------------------------------


def normalise(path: str) -> str:
    """An absolute POSIX or Windows directory without its trailing separator; 9900 otherwise."""
    if not (path.startswith("/") or WINDOWS_ROOT.match(path)):
        raise CbrError.of("9900", f"{path!r} is not an absolute directory path.")
    trimmed = path.rstrip("/\\")
    if not trimmed or re.fullmatch(r"[A-Za-z]:", trimmed):
        return path[: len(trimmed) + 1]
    return trimmed


def _inside(child: str, parent: str) -> bool:
    separator = "\\" if WINDOWS_ROOT.match(parent) else "/"
    return child != parent and child.startswith(parent.rstrip(separator) + separator)


def _exclusions(request: AgentAddPathReq, known: set[str]) -> dict[str, list[str]]:
    """Directories excluded under each backup path the request names; 9900 for a misplaced one."""
    wanted: dict[str, list[str]] = {}
    for entry in request.exclude_path or []:
        if entry.path_name is None:
            raise CbrError.of("9900", "exclude_path.path_name is required.")
        parent = normalise(entry.path_name)
        if parent not in known:
            raise CbrError.of("9900", f"{parent} is neither added nor a backup path of the agent.")
        children = [normalise(child) for child in entry.exclude_path_name or []]
        outside = [child for child in children if not _inside(child, parent)]
        if outside:
            raise CbrError.of("9900", f"Excluded directories must lie inside {parent}: {', '.join(outside)}.")
        wanted[parent] = list(dict.fromkeys(wanted.get(parent, []) + children))
    return wanted


def add_agent_path(call: Call) -> dict[str, Any]:
    agent = find_agent(call.project, call.path("agent_id"))
    request = call.body(AgentAddPathReq)
    paths = list(dict.fromkeys(normalise(path) for path in request.add_path))
    added = [path for path in paths if path not in agent.paths]
    existed = [path for path in paths if path in agent.paths]
    if len(agent.paths) + len(added) > MAX_PATHS:
        raise too_many_paths(agent.id)
    exclusions = _exclusions(request, set(agent.paths) | set(added))
    for path in added:
        agent.paths[path] = AgentPath(call.world.ids.new(), path)
    for path, excluded in exclusions.items():
        agent.paths[path].exclude_paths = excluded
    agent.updated_at = call.now
    return {"added": added, "existed": existed}


def remove_agent_path(call: Call) -> dict[str, Any]:
    agent = find_agent(call.project, call.path("agent_id"))
    paths = list(dict.fromkeys(normalise(path) for path in call.body(AgentRemovePathReq).remove_path))
    removed = [path for path in paths if agent.paths.pop(path, None) is not None]
    agent.updated_at = call.now
    return {"removed": removed, "not_existed": [path for path in paths if path not in removed]}


# --- presence on servers -------------------------------------------------------------------------


def _version(text: str | None) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")) if text else ()


def check_agent(call: Call) -> dict[str, Any]:
    """Whether an agent runs on each server: one registered, not uninstalled, under the server's name."""
    request = call.body(ProtectableAgentReq)
    answers = []
    for item in request.agent_status:
        server = call.project.inventory.servers.get(item.resource_id)
        if server is None or item.resource_type != SERVER_TYPE:
            raise CbrError.of(
                "6302", f"Resource {item.resource_id} of type {item.resource_type} does not exist."
            )
        agent = next(
            (
                a
                for a in call.project.agents.values()
                if a.host_name == server.name and a.status != "uninstall"
            ),
            None,
        )
        answers.append(
            {
                "code": None,
                "installed": agent is not None,
                "is_old": None if agent is None else _version(agent.agent_version) < CURRENT_VERSION,
                "message": None,
                "resource_id": server.id,
                "version": agent.agent_version if agent else None,
            }
        )
    return {"agent_status": answers}
