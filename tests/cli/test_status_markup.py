"""Text from outside (command ids, CBR codes and messages, resource ids) is shown as written, never as Rich
markup: ``[/x]`` once made ``status`` crash with a ``MarkupError``, and ``[bold]`` or ``[link=…]`` would
silently restyle or hide what CBR said."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from typing import Any

from cli_runner import run_cli
from rich.console import Console
from store_rows import raw_sql

from orchestrator.cli.views.status import workflow_detail, workflows_table
from orchestrator.store import Store, list_workflows, workflow_status

P, R = "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "eu-west-101"
ODD_ID = "a[/b] [bold]b[/bold]"
ODD_CODE = "E[/x]"
ODD_MESSAGE = "vault [/x] is [bold]full[/bold], see [link=https://example.com]here[/link]"
ODD_RESOURCE = "srv[/x][bold]"
FLEET_ID = "fleet [link=https://example.com]f[/link]"


def rendered(renderable: Any) -> str:
    out = io.StringIO()
    Console(file=out, width=400, color_system=None).print(renderable)
    return out.getvalue()


async def insert(store: Store, command_id: str, kind: str, **columns: Any) -> uuid.UUID:
    wid = uuid.uuid4()
    columns["finished_at"] = datetime.now(UTC)  # every workflow here is final
    names = ["id", "command_id", "kind", "project_id", "region", *columns]
    values = [wid, command_id, kind, P, R, *columns.values()]
    marks = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    await raw_sql(store).execute(f"INSERT INTO workflows ({', '.join(names)}) VALUES ({marks})", *values)
    return wid


def odd_result(status: str) -> dict[str, Any]:
    bad = {
        "resource_id": ODD_RESOURCE,
        "status": status,
        "error_code": ODD_CODE,
        "error_message": ODD_MESSAGE,
    }
    return {"resources": [bad], "checkpoint_id": None, "destination_backup_id": None, "fleet": None}


async def odd_workflows(store: Store) -> None:
    """A failed backup and a fleet whose child failed, every outside text holding markup-like brackets."""
    backup = await insert(
        store,
        ODD_ID,
        "backup",
        input={"resources": [{"id": ODD_RESOURCE}]},
        status="failed",
        result=odd_result("failed"),
        error_code=ODD_CODE,
        error_message=ODD_MESSAGE,
    )
    await raw_sql(store).execute(
        """INSERT INTO steps (workflow_id, worker, operation, outcome, error_code, error_message,
                              started_at, finished_at)
           VALUES ($1, 'w[/x]', 'CreateCheckpoint', 'terminal', $2, $3, now(), now())""",
        backup,
        ODD_CODE,
        ODD_MESSAGE,
    )
    counts = {"total": 1, "failed": 1, "children": 1, "children_final": 1}
    parent = await insert(
        store,
        FLEET_ID,
        "fleet_backup",
        input={},
        state={"phase": "summarize", "counts": counts},
        status="failed",
        result={**odd_result("failed"), "fleet": {"counts": counts}},
        error_code=ODD_CODE,
        error_message=ODD_MESSAGE,
    )
    await insert(
        store,
        f"fleet/{parent}/000001",
        "backup",
        parent_id=parent,
        input={"resources": [{"id": ODD_RESOURCE}], "vault": {"name": "v[/x]"}},
        status="failed",
        result=odd_result("failed"),
        error_code=ODD_CODE,
        error_message=ODD_MESSAGE,
    )


async def test_the_table_and_the_details_show_outside_text_as_written(store: Store, dsn: str) -> None:
    await odd_workflows(store)
    table = rendered(workflows_table(await list_workflows(dsn)))
    assert ODD_ID in table and ODD_CODE in table and FLEET_ID in table
    backup = await workflow_status(dsn, ODD_ID)
    assert backup is not None
    shown = rendered(workflow_detail(backup))
    assert ODD_ID in shown and f"{ODD_CODE} {ODD_MESSAGE}" in shown and "w[/x]" in shown
    fleet = await workflow_status(dsn, FLEET_ID)
    assert fleet is not None
    shown = rendered(workflow_detail(fleet))
    assert FLEET_ID in shown and ODD_RESOURCE in shown and ODD_MESSAGE in shown and "v[/x]" in shown


async def test_status_of_an_id_holding_markup_ends_with_a_message(dsn: str) -> None:
    missing = await run_cli(dsn, "status", "a[/b]")
    assert (missing.code, missing.stderr) == (1, "")
    assert "no workflow with id or command id 'a[/b]'" in missing.stdout


async def test_status_prints_stored_markup_like_text_as_written(store: Store, dsn: str) -> None:
    await odd_workflows(store)
    for args in (("status",), ("status", ODD_ID), ("status", FLEET_ID)):
        run = await run_cli(dsn, *args)
        assert (run.code, run.stderr) == (0, ""), args
        assert ODD_CODE in run.stdout, args
    assert ODD_MESSAGE in run.stdout and ODD_RESOURCE in run.stdout
