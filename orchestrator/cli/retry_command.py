"""The command that retries an ended workflow: a new workflow under a derived command id.

Why not run the old workflow again: a workflow ends by writing its one completion event, and consumers
rely on exactly one per command id; its machine is done and its locks and slots are given back. Reopening
it would publish a second, different ending for the same command. So a retry is a new command, derived:

- its command id is the old one with ``-retry-N`` (N one more than the old one's own, if it is a retry):
  retrying the same workflow twice names the same command, so the second is a duplicate, not a third run;
- a backup keeps only the resources that were not backed up: those ``succeeded`` are left out (no second
  backup of them), and so are those whose backup was still running in CBR when the workflow was cancelled
  (CBR cannot cancel it, it may have finished: backing them up again could make a second backup);
- a restore or a replication is the same command again (one target each);
- the deadline and the admission window's ``start_by`` are dropped: they passed, which is often why the
  workflow ended; the caps stay. Reply queue, correlation id and callback stay, so the retry's completion
  event goes where the first one went, under the new command id.

A fleet is not retried whole: its children are backups, each retried on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from orchestrator.messages import AnyCommand, command_from_json
from orchestrator.store.models import Workflow, WorkflowStatus
from orchestrator.workflows.base import MAY_STILL_FINISH

RETRYABLE = (
    WorkflowStatus.FAILED,
    WorkflowStatus.CANCELLED,
    WorkflowStatus.EXPIRED,
    WorkflowStatus.PARTIALLY_SUCCEEDED,
)
MAX_ID = 128
_RETRY_SUFFIX = re.compile(r"^(?P<base>.+)-retry-(?P<n>\d+)$")


class NotRetryable(Exception):
    """Why this workflow cannot be retried (one line)."""


@dataclass(frozen=True)
class Retry:
    command: AnyCommand
    left_out: dict[str, str]  # resource id → why it is not in the retry


def derived_command_id(command_id: str) -> str:
    match = _RETRY_SUFFIX.match(command_id)
    base, n = (match["base"], int(match["n"]) + 1) if match else (command_id, 1)
    suffix = f"-retry-{n}"
    return base[: MAX_ID - len(suffix)] + suffix


def retry_of(workflow: Workflow) -> Retry:
    """The command that retries ``workflow``, or :class:`NotRetryable`."""
    if workflow.status not in RETRYABLE:
        raise NotRetryable(
            f"it is {workflow.status.value}: only a failed, cancelled, expired or partly failed one"
        )
    if workflow.kind == "fleet_backup":
        raise NotRetryable(
            "a fleet is retried child by child: `cbr-orchestrator status ID` lists its children"
        )
    raw: dict[str, Any] = {**workflow.input, "command_id": derived_command_id(workflow.command_id)}
    raw.pop("deadline", None)
    if isinstance(raw.get("admission"), dict):
        raw["admission"] = {k: v for k, v in raw["admission"].items() if k != "start_by"}
    left_out: dict[str, str] = {}
    if workflow.kind == "backup":
        left_out = _backed_up_or_maybe(workflow.state.get("results", {}))
        raw["resources"] = [r for r in raw["resources"] if r["id"] not in left_out]
        if not raw["resources"]:
            raise NotRetryable("every resource is backed up or may still be: nothing to retry")
    return Retry(command_from_json(raw), left_out)


def _backed_up_or_maybe(results: dict[str, Any]) -> dict[str, str]:
    left_out = {}
    for resource_id, result in results.items():
        if result.get("status") == "succeeded":
            left_out[resource_id] = f"backed up ({result.get('backup_id')})"
        elif MAY_STILL_FINISH in (result.get("error_message") or ""):
            left_out[resource_id] = (
                "its backup may still finish in CBR: check it there before backing it up again"
            )
    return left_out
