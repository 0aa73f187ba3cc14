"""How far a single workflow (backup, restore, replicate) is, from its stored row; a fleet's progress is its
report (``orchestrator.workflows.fleet_report``)."""

from __future__ import annotations

from orchestrator.store.models import Workflow, WorkflowStatus

DONE = (WorkflowStatus.SUCCEEDED, WorkflowStatus.PARTIALLY_SUCCEEDED)


def percent_done(wf: Workflow) -> int | None:
    """100 once every resource is settled; while it runs, the larger of a backup's finished resources and
    the progress last reported in its events (CBR's task progress); None when it failed or is a fleet."""
    if wf.kind == "fleet_backup":
        return None
    if wf.status in DONE:
        return 100
    if wf.status.is_final:
        return None
    reported = wf.state.get("progress_reported")
    percent = reported if isinstance(reported, int) else 0
    return max(percent, _backups_finished(wf))


def _backups_finished(wf: Workflow) -> int:
    if wf.kind != "backup":
        return 0
    resources, results = wf.input.get("resources"), wf.state.get("results")
    if not isinstance(resources, list) or not resources or not isinstance(results, dict):
        return 0
    return 100 * min(len(results), len(resources)) // len(resources)
