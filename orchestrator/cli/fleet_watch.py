"""``submit --wait``: follow one command's workflow until it is final, as a live progress bar."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from orchestrator.cli.views.progress import percent_done, progress_text
from orchestrator.store import Store, Workflow
from orchestrator.workflows.fleet_report import progress_line, report_of


async def wait_for_workflow(
    dsn: str, command_id: str, console: Console, poll_seconds: float = 0.5
) -> Workflow:
    """The final workflow of ``command_id`` (bound it with ``asyncio.timeout`` if needed)."""
    store = await Store.connect(dsn, max_size=1)
    try:
        return await _follow(store, command_id, console, poll_seconds)
    finally:
        await store.close()


async def _follow(store: Store, command_id: str, console: Console, poll_seconds: float) -> Workflow:
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}", style="bold", markup=False),  # a command id: shown as written
        BarColumn(),
        TextColumn("{task.fields[line]}", markup=False),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(command_id, total=None, line="waiting for intake")
        while True:
            wf = await store.status.find(command_id)  # without a fleet's selection: polled often
            if wf is not None:
                _show(bar, task, wf)
                if wf.status.is_final:
                    return wf
            await asyncio.sleep(poll_seconds)


def _show(bar: Progress, task: TaskID, wf: Workflow) -> None:
    """One line: ``backup · running · 50%``; a fleet's ``fleet_backup · running · 412/600 · …`` (its count
    once: the bar has no count column of its own)."""
    report = report_of(wf.kind, wf.state, wf.result, datetime.now(UTC))
    if report is None:
        percent = percent_done(wf)  # None once it failed: the bar ends full, the line says how it ended
        done = 100 if percent is None else percent
        bar.update(task, total=100, completed=done, line=progress_text(wf))
        return
    c = report.counts
    line = f"{wf.kind} · {wf.status.value} · {progress_line(report)}"
    bar.update(task, total=c.total or None, completed=c.final, line=line)
