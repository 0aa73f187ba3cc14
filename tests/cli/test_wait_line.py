"""What ``submit --wait`` shows while it follows a workflow: a single workflow as one line with its kind,
state and percentage (not ``0/?``); a fleet with its count once (no count column repeating it)."""

from __future__ import annotations

import asyncio
import io
import uuid
from datetime import UTC, datetime

from rich.console import Console
from store_rows import raw_sql

from orchestrator.cli.fleet_watch import wait_for_workflow
from orchestrator.store import Store, WorkflowStatus

P, R = "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "eu-west-101"


async def insert(store: Store, command_id: str, kind: str, status: str, **columns: object) -> uuid.UUID:
    wid = uuid.uuid4()
    names = ["id", "command_id", "kind", "status", "project_id", "region", *columns]
    values = [wid, command_id, kind, status, P, R, *columns.values()]
    marks = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    await raw_sql(store).execute(f"INSERT INTO workflows ({', '.join(names)}) VALUES ({marks})", *values)
    return wid


async def until_shown(live: io.StringIO, text: str, seconds: float = 10) -> None:
    for _ in range(int(seconds / 0.05)):
        if text in live.getvalue():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{text!r} not shown; shown: {live.getvalue()[-500:]!r}")


async def test_a_running_backup_is_one_line_with_its_percentage(store: Store, dsn: str) -> None:
    resources = [{"id": "srv-1", "type": "OS::Nova::Server"}, {"id": "srv-2", "type": "OS::Nova::Server"}]
    done = {"srv-1": {"resource_id": "srv-1", "status": "succeeded", "backup_id": "bk-1"}}
    wid = await insert(
        store,
        "followed",
        "backup",
        "running",
        input={"resources": resources, "vault": {"name": "v"}},
        state={"phase": "poll", "admitted": True, "pending": ["srv-2"], "results": done},
    )
    live = io.StringIO()
    terminal = Console(file=live, width=120, force_terminal=True, color_system=None)
    following = asyncio.create_task(wait_for_workflow(dsn, "followed", terminal, poll_seconds=0.05))
    try:
        await until_shown(live, "backup · running · 50%")
        result = {"resources": [], "checkpoint_id": "cp-1"}
        await raw_sql(store).execute(
            "UPDATE workflows SET status = 'succeeded', result = $2, finished_at = now() WHERE id = $1",
            wid,
            result,
        )
        final = await asyncio.wait_for(following, 10)
    finally:
        following.cancel()  # a no-op once it returned; else it must not outlive its database
        await asyncio.gather(following, return_exceptions=True)
    assert final.status is WorkflowStatus.SUCCEEDED
    assert "backup · succeeded · 100%" in live.getvalue()
    assert "0/?" not in live.getvalue() and "backup running" not in live.getvalue()


async def test_a_fleet_shows_its_count_once(store: Store, dsn: str) -> None:
    counts = {"total": 200, "succeeded": 200, "children": 1, "children_final": 1}
    await insert(
        store,
        "followed-fleet",
        "fleet_backup",
        "succeeded",
        input={},
        state={"phase": "summarize", "counts": counts},
        result={"resources": [], "fleet": {"counts": counts}},
        finished_at=datetime.now(UTC),
    )
    live = io.StringIO()
    final = await wait_for_workflow(dsn, "followed-fleet", Console(file=live, width=200), poll_seconds=0.05)
    assert final.status is WorkflowStatus.SUCCEEDED
    [line] = [x for x in live.getvalue().splitlines() if "followed-fleet" in x]
    assert "fleet_backup · succeeded · 200/200" in line and line.count("200/200") == 1
