"""The orchestrator's CBR limits (orchestrator/cbr/limits.py) agree with the emulator, the server side:
the emulator accepts each limit and refuses one beyond it. A limit changed on one side only fails here."""

from __future__ import annotations

from typing import Any

import pytest
from emu_helpers import Api, build

from orchestrator.cbr import limits


def _refused(api: Api, operation: str, **kwargs: Any) -> None:
    """Refused by the request's validation (9900), not for some other reason."""
    api.refused(operation, "9900", **kwargs)


def _vault_body(name: str = "v", size: int = 100, servers: list[Any] | None = None, **extra: Any) -> Any:
    billing = {"object_type": "server", "protect_type": "backup", "consistent_level": "crash_consistent"}
    resources = [{"id": s.id, "type": "OS::Nova::Server"} for s in servers or []]
    return {"vault": {"name": name, "billing": {**billing, "size": size}, "resources": resources, **extra}}


def test_vault_names_and_descriptions(api: Api) -> None:
    longest = "n" * limits.NAME_MAX_LENGTH
    api.ok("create_vault", body=_vault_body(longest, description="d" * limits.VAULT_DESCRIPTION_MAX_LENGTH))
    _refused(api, "create_vault", body=_vault_body(longest + "n"))
    too_long = "d" * (limits.VAULT_DESCRIPTION_MAX_LENGTH + 1)
    _refused(api, "create_vault", body=_vault_body(description=too_long))


def test_checkpoint_names(api: Api) -> None:
    vault = api.vault(resources=api.servers()[:1])
    params = {"name": "n" * limits.NAME_MAX_LENGTH}
    api.ok("create_checkpoint", body={"checkpoint": {"vault_id": vault["id"], "parameters": params}})
    params = {"name": "n" * (limits.NAME_MAX_LENGTH + 1)}
    _refused(api, "create_checkpoint", body={"checkpoint": {"vault_id": vault["id"], "parameters": params}})


@pytest.mark.parametrize("size", [limits.VAULT_MIN_GB, limits.VAULT_MAX_GB])
def test_vault_sizes_accepted(api: Api, size: int) -> None:
    api.ok("create_vault", body=_vault_body(size=size))


@pytest.mark.parametrize("size", [limits.VAULT_MIN_GB - 1, limits.VAULT_MAX_GB + 1])
def test_vault_sizes_refused(api: Api, size: int) -> None:
    _refused(api, "create_vault", body=_vault_body(size=size))


def test_resources_per_vault_and_per_create_call() -> None:
    api = Api(build(servers=limits.VAULT_MAX_RESOURCES + 1, disks=0, data_disks=0))
    servers = sorted(api.servers(), key=lambda s: s.id)
    at_create = servers[: limits.CREATE_VAULT_MAX_RESOURCES]
    _refused(api, "create_vault", body=_vault_body(servers=servers[: limits.CREATE_VAULT_MAX_RESOURCES + 1]))
    vault = api.ok("create_vault", body=_vault_body(size=limits.VAULT_MAX_GB, servers=at_create))["vault"]
    rest = servers[limits.CREATE_VAULT_MAX_RESOURCES :]
    path = {"vault_id": vault["id"]}
    api.ok("add_vault_resource", path=path, body={"resources": [_ref(s) for s in rest[:-1]]})
    api.refused("add_vault_resource", "6100", path=path, body={"resources": [_ref(rest[-1])]})  # vault full
    _refused(api, "create_checkpoint", body=_checkpoint(vault["id"], [s.id for s in servers]))
    api.ok("create_checkpoint", body=_checkpoint(vault["id"], [s.id for s in servers[:-1]]))


def _ref(server: Any) -> dict[str, str]:
    return {"id": server.id, "type": "OS::Nova::Server"}


def _checkpoint(vault_id: str, resources: list[str]) -> Any:
    return {"checkpoint": {"vault_id": vault_id, "parameters": {"resources": resources}}}


@pytest.mark.parametrize(("operation", "path", "page"), [
    ("list_vault", {}, limits.LIST_MAX_PAGE),
    ("list_backups", {}, limits.LIST_MAX_PAGE),
    ("list_op_logs", {}, limits.LIST_MAX_PAGE),
    ("list_protectable", {"protectable_type": "server"}, limits.PROTECTABLE_MAX_PAGE),
])  # fmt: skip
def test_largest_pages(api: Api, operation: str, path: dict[str, str], page: int) -> None:
    api.ok(operation, path=path, query=[("limit", str(page))])
    _refused(api, operation, path=path, query=[("limit", str(page + 1))])
