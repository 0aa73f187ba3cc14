"""``coverage``: per project, how many protectable resources are ``ok``, ``stale``, ``never`` backed up or
``unprotected`` (in no vault), and the worst offenders; ``--refresh`` reads CBR's listings first."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer

from orchestrator.cli.app import ENV_CLOUD, ENV_DATABASE, app, console, settings

if TYPE_CHECKING:
    from orchestrator.config import Settings
    from orchestrator.engine.coverage_states import ProjectSummary
    from orchestrator.engine.posture_refresh import PostureRun


@app.command(epilog=f"{ENV_DATABASE} {ENV_CLOUD} CBR_ORCH_COVERAGE__* (the RPOs).")
def coverage(
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Refresh from CBR's listings first (prints the calls).")
    ] = False,
    full: Annotated[
        bool, typer.Option("--full", help="With --refresh: list every backup, not only the new ones.")
    ] = False,
    project: Annotated[
        list[str] | None,
        typer.Option("--project", metavar="<project id>", help="Only this project (repeatable)."),
    ] = None,
    worst: Annotated[int, typer.Option(min=0, max=1000, help="Worst offenders shown per project.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
) -> None:
    """The coverage ledger: per protectable resource its last good backup (by our workflows, a CBR policy
    or by hand), its age against the RPO declared for it, and its state; summarised per project, worst
    offenders first."""
    from orchestrator.cli.views.coverage import (
        coverage_json,
        coverage_view,
        posture_counts,
        posture_line,
        refresh_line,
    )
    from orchestrator.cli.views.status_json import dumps

    if full and not refresh:
        raise typer.BadParameter("--full goes with --refresh", param_hint="--full")
    runs, summaries = asyncio.run(_run(settings(), refresh, full, project or [], worst))
    reports = [run.refresh for run in runs]
    if as_json:
        shown = coverage_json(summaries)
        if refresh:
            calls = sum(r.calls for r in reports)
            shown["refresh"] = {"calls": calls, "projects": len(reports), **posture_counts(runs)}
        console.print_json(dumps(shown))
        return
    if refresh:
        console.print(refresh_line(reports))
        console.print(posture_line(runs))
    console.print(coverage_view(summaries))


async def _run(
    chosen: Settings, refresh: bool, full: bool, projects: list[str], worst: int
) -> tuple[list[PostureRun], list[ProjectSummary]]:
    from orchestrator.engine.coverage_states import classify, summarise
    from orchestrator.engine.posture_refresh import refresh_all
    from orchestrator.store import Store

    store = await Store.connect(chosen.database_url, max_size=2)
    try:
        runs = await refresh_all(chosen, store, projects, full=full) if refresh else []
        rows = await store.coverage.entries(projects or None)
        return runs, summarise(classify(rows, chosen.coverage), worst)
    finally:
        await store.close()
