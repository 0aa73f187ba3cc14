"""GET /v1/coverage: the ledger per project of the key, counts per state and the worst offenders first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from api_helpers import OTHER_PROJECT, PROJECT, bearer
from api_types import MakeKey

from orchestrator.store import Store
from orchestrator.store.coverage import Cursor, GoodBackup, Protectable


async def _ledger(store: Store, project: str) -> None:
    """r-ok backed up an hour ago, r-stale two days ago, r-never in a vault without a backup, r-out in
    none."""
    now = datetime.now(UTC)
    protectables = [
        Protectable("r-ok", "server", "ok", "v1", "vault-1"),
        Protectable("r-stale", "server", "stale", "v1", "vault-1"),
        Protectable("r-never", "server", "never", "v1", "vault-1"),
        Protectable("r-out", "server", "out", None, None),
    ]
    backups = [
        GoodBackup("r-ok", "b-1", "v1", now - timedelta(hours=1)),
        GoodBackup("r-stale", "b-2", "v1", now - timedelta(days=2)),
    ]
    await store.coverage.save(project, protectables, backups, Cursor(now, now), full=True)


async def test_a_key_sees_the_coverage_of_its_projects_only(
    client: Any, store: Store, make_key: MakeKey
) -> None:
    await _ledger(store, PROJECT)
    await _ledger(store, OTHER_PROJECT)
    key = await make_key(("read",), (PROJECT,))
    answer = await client.get("/v1/coverage", headers=bearer(key))
    assert answer.status == 200
    [project] = (await answer.json())["projects"]
    assert project["project_id"] == PROJECT
    assert project["counts"] == {"ok": 1, "stale": 1, "never": 1, "unprotected": 1}
    assert [e["resource_id"] for e in project["worst"]] == ["r-never", "r-out", "r-stale"]
    elsewhere = await client.get(f"/v1/coverage?project={OTHER_PROJECT}", headers=bearer(key))
    assert (await elsewhere.json())["projects"] == []


async def test_a_key_of_every_project_sees_each_and_worst_bounds_the_offenders(
    client: Any, store: Store, make_key: MakeKey
) -> None:
    await _ledger(store, PROJECT)
    await _ledger(store, OTHER_PROJECT)
    key = await make_key(("read",))
    body = await (await client.get("/v1/coverage?worst=1", headers=bearer(key))).json()
    assert sorted(p["project_id"] for p in body["projects"]) == sorted([PROJECT, OTHER_PROJECT])
    assert all([e["state"] for e in p["worst"]] == ["never"] for p in body["projects"])


async def test_coverage_needs_a_key(client: Any) -> None:
    assert (await client.get("/v1/coverage")).status == 401
