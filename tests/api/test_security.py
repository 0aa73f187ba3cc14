"""Every refusal of ``POST /v1/commands``: its status, and that no workflow exists afterwards."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from api_helpers import OTHER_PROJECT, PROJECT, backup_body, bearer, conforming_client, workflow_count
from api_types import MakeKey

from orchestrator.config import Settings
from orchestrator.store import Store


async def refused(client: Any, store: Store, status: int, headers: dict[str, str], body: Any) -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body)
    answer = await client.post("/v1/commands", data=data, headers=headers)
    assert answer.status == status, await answer.text()
    assert answer.content_type == "application/problem+json"
    assert await workflow_count(store) == 0
    return answer


async def test_no_key_malformed_key_unknown_key(client: Any, store: Store, make_key: MakeKey) -> None:
    key = await make_key(("backup",))
    unknown = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": key}, bearer(unknown)):
        answer = await refused(client, store, 401, headers, backup_body())
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert key.split("_")[-1] not in await answer.text()


async def test_a_revoked_key_is_refused_within_the_key_cache_time(
    api_settings: Settings, store: Store, make_key: MakeKey
) -> None:
    settings = api_settings.model_copy(
        update={"api": api_settings.api.model_copy(update={"key_cache_seconds": 0.2})}
    )
    key = await make_key(("backup", "read"))
    async with conforming_client(settings, store) as client:
        assert (await client.get("/v1/workflows", headers=bearer(key))).status == 200
        assert await store.api_keys.revoke(key.split("_")[1])
        await asyncio.sleep(0.25)
        await refused(client, store, 401, bearer(key), backup_body())


async def test_a_project_the_key_does_not_have_is_not_found(
    client: Any, store: Store, make_key: MakeKey
) -> None:
    key = await make_key(("backup",), projects=(OTHER_PROJECT,))
    await refused(client, store, 404, bearer(key), backup_body())


async def test_a_fleet_reaching_into_a_project_the_key_lacks_is_not_found(
    client: Any, store: Store, make_key: MakeKey
) -> None:
    key = await make_key(("backup",), projects=(PROJECT,))
    projects = [{"project_id": OTHER_PROJECT, "region": "eu-west-101"}]
    fleet = {k: v for k, v in backup_body().items() if k not in ("vault", "resources")}
    fleet |= {"kind": "fleet_backup", "select": {"protectables": {"types": ["server"], "projects": projects}}}
    await refused(client, store, 404, bearer(key), fleet)


async def test_a_restore_needs_the_restore_scope(client: Any, store: Store, make_key: MakeKey) -> None:
    key = await make_key(("backup", "read"))
    restore = {
        "kind": "restore",
        "command_id": "api-restore-1",
        "project_id": PROJECT,
        "region": "eu-west-101",
        "backup_id": "backup-1",
        "server_id": "server-1",
    }
    answer = await refused(client, store, 403, bearer(key), restore)
    assert "restore" in (await answer.json())["detail"]


def drill_body(**over: Any) -> dict[str, Any]:
    return {
        "kind": "restore_drill",
        "command_id": "api-drill-1",
        "project_id": PROJECT,
        "region": "eu-west-101",
        "sample": {"vaults": [{"name": "prod"}], "servers": ["prod-1"]},
        "scratch_servers": ["scratch-1"],
    } | over


async def test_a_restore_drill_needs_the_restore_scope_and_scratch_servers_apart_from_the_sample(
    client: Any, store: Store, make_key: MakeKey
) -> None:
    answer = await refused(client, store, 403, bearer(await make_key(("backup", "read"))), drill_body())
    assert "restore" in (await answer.json())["detail"]
    key = await make_key(("restore",))
    answer = await refused(client, store, 422, bearer(key), drill_body(scratch_servers=["prod-1"]))
    assert "sampled server" in json.dumps(await answer.json())
    accepted = await client.post("/v1/commands", data=json.dumps(drill_body()), headers=bearer(key))
    assert accepted.status in (201, 202), await accepted.text()
    assert await workflow_count(store) == 1


async def test_a_body_over_the_cap_is_413(client: Any, store: Store, make_key: MakeKey) -> None:
    key = await make_key(("backup",))
    huge = backup_body(description="x" * (70 * 1024))
    await refused(client, store, 413, bearer(key), huge)


async def test_an_unknown_field_is_422_naming_it(client: Any, store: Store, make_key: MakeKey) -> None:
    key = await make_key(("backup",))
    answer = await refused(client, store, 422, bearer(key), backup_body(surprise="s3cret-value"))
    problem = await answer.json()
    assert [e["location"] for e in problem["errors"]] == ["backup.surprise"]
    assert "s3cret-value" not in json.dumps(problem)


async def test_malformed_json_is_400(client: Any, store: Store, make_key: MakeKey) -> None:
    key = await make_key(("backup",))
    await refused(client, store, 400, bearer(key), b'{"kind": "backup", ')
    await refused(client, store, 400, bearer(key), b"[" * 100 + b"]" * 100)


async def test_a_project_without_credentials_is_422(client: Any, store: Store, make_key: MakeKey) -> None:
    key = await make_key(("backup",))
    answer = await refused(client, store, 422, bearer(key), backup_body(project=OTHER_PROJECT))
    assert "credentials" in (await answer.json())["detail"]


async def test_an_idempotency_key_used_with_another_body_is_422(
    client: Any, store: Store, make_key: MakeKey
) -> None:
    key = await make_key(("backup",))
    await store.idempotency.begin(key.split("_")[1], "same-key", b"another body's hash")
    await refused(client, store, 422, bearer(key) | {"Idempotency-Key": "same-key"}, backup_body())


async def test_an_idempotency_key_still_being_accepted_is_409(
    client: Any, store: Store, make_key: MakeKey
) -> None:
    from orchestrator.api.commands import _fingerprint
    from orchestrator.messages import command_from_json

    key = await make_key(("backup",))
    body = backup_body()
    await store.idempotency.begin(key.split("_")[1], "same-key", _fingerprint(command_from_json(body)))
    answer = await refused(client, store, 409, bearer(key) | {"Idempotency-Key": "same-key"}, body)
    assert answer.headers["Retry-After"] == "1"


async def test_too_many_requests_is_429_with_retry_after(
    api_settings: Settings, store: Store, make_key: MakeKey
) -> None:
    api = api_settings.api.model_copy(update={"key_rate": 0.5, "key_burst": 2})
    key = await make_key(("backup",))
    async with conforming_client(api_settings.model_copy(update={"api": api}), store) as client:
        for _ in range(2):  # the burst, spent on refused commands
            await refused(client, store, 422, bearer(key), backup_body(surprise=1))
        answer = await refused(client, store, 429, bearer(key), backup_body())
        assert int(answer.headers["Retry-After"]) >= 1


async def test_a_keys_budget_is_shared_by_every_api_process(
    api_settings: Settings, store: Store, make_key: MakeKey
) -> None:
    """Two servers on one database (two processes behind a load balancer) share one key's budget."""
    api = api_settings.api.model_copy(update={"key_rate": 0.1, "key_burst": 2})
    settings = api_settings.model_copy(update={"api": api})
    key = await make_key(("backup",))
    async with conforming_client(settings, store) as first, conforming_client(settings, store) as second:
        await refused(first, store, 422, bearer(key), backup_body(surprise=1))
        await refused(second, store, 422, bearer(key), backup_body(surprise=1))
        await refused(first, store, 429, bearer(key), backup_body())
        await refused(second, store, 429, bearer(key), backup_body())
