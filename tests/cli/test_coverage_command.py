"""``coverage`` reads the ledger as it is: the table per project, the worst offenders, ``--json``; and
``--full`` only with ``--refresh``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from cli_runner import run_cli

from orchestrator.store import Store
from orchestrator.store.coverage import Cursor, GoodBackup, Protectable

PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"


async def _ledger(store: Store) -> None:
    now = datetime.now(UTC)
    protectables = [
        Protectable("r-ok", "server", "web-1", "v1", "nightly"),
        Protectable("r-never", "server", "[red]db-1[/red]", "v1", "nightly"),
        Protectable("r-out", "server", "tmp-1", None, None),
    ]
    backups = [GoodBackup("r-ok", "b-1", "v1", now - timedelta(hours=1))]
    await store.coverage.save(PROJECT, protectables, backups, Cursor(now, now), full=True)


async def test_the_summary_and_the_worst_offenders_first(store: Store, dsn: str) -> None:
    await _ledger(store)
    run = await run_cli(dsn, "coverage")
    assert run.code == 0, run.stderr
    row = next(line for line in run.stdout.splitlines() if PROJECT in line and "│" in line)
    cells = [cell.strip() for cell in row.split("│")[2:6]]
    assert cells == ["1", "1", "0", "1"]  # never, unprotected, stale, ok
    offenders = [line for line in run.stdout.splitlines() if "r-" in line]
    assert ["r-never" in offenders[0], "r-out" in offenders[1]] == [True, True]
    assert "[red]db-1[/red]" in run.stdout  # a name from outside is shown as written


async def test_json_and_full_without_refresh(store: Store, dsn: str) -> None:
    await _ledger(store)
    shown = json.loads((await run_cli(dsn, "coverage", "--json", "--worst", "1")).stdout)
    [project] = shown["projects"]
    assert project["counts"] == {"never": 1, "unprotected": 1, "stale": 0, "ok": 1}
    assert [e["resource_id"] for e in project["worst"]] == ["r-never"]
    refused = await run_cli(dsn, "coverage", "--full")
    assert refused.code == 2 and "--full" in refused.stderr
