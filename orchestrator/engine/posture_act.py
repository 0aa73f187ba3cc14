"""Stale → act: a resource out of its RPO in a vault gets a backup command of its own, once per staleness
episode, into the vault it is bound to (``coverage.act``, off by default).

The command goes the normal way (:func:`check_acceptable`, then the workflow committed as intake and the
API commit it) under a command id derived from the project, the resource and the episode: a refresh that
runs again, a second worker or a restart between the commit and the mark finds the workflow already there
(a duplicate), so an episode never yields two backups. At most ``act_max_per_run`` commands per refresh,
``act_rate`` per second; the rest wait for the next refresh, never-backed-up resources first.

A failed backup is not tried again in the same episode: the resource stays ``stale`` (its gauges and the
failed workflow say so) until a backup lands, and its next episode gets a command again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pydantic import ValidationError

from orchestrator.broker.acceptance import check_acceptable
from orchestrator.broker.intake import new_workflow
from orchestrator.config import Settings
from orchestrator.messages import BackupCommand, InvalidCommand
from orchestrator.observability import metrics
from orchestrator.store import Store, Verdict
from orchestrator.store.posture import ToAct

log = logging.getLogger(__name__)

SUBMITTED = "submitted"
DUPLICATE = "duplicate"
REFUSED = "refused"
BACKUP_NAME = "posture"


@dataclass
class ActReport:
    project_id: str
    results: dict[str, int] = field(default_factory=dict)  # submitted, duplicate, refused
    command_ids: list[str] = field(default_factory=list)  # of the commands submitted or found

    def count(self, result: str) -> None:
        self.results[result] = self.results.get(result, 0) + 1
        metrics.POSTURE_ACT_COMMANDS.labels(self.project_id, result).inc()


def command_id_of(project_id: str, resource_id: str, episode: int) -> str:
    return f"posture:{project_id}:{resource_id}:{episode}"


def backup_command(project_id: str, region: str, resource: ToAct) -> BackupCommand:
    """The episode's command: its body depends on nothing that changes within the episode but the vault."""
    return BackupCommand.model_validate(
        {
            "command_id": command_id_of(project_id, resource.resource_id, resource.episode),
            "project_id": project_id,
            "region": region,
            "vault": {"id": resource.vault_id},
            "resources": [{"id": resource.resource_id, "type": resource.resource_type}],
            "name": BACKUP_NAME,
            "description": f"posture: stale to act, episode {resource.episode}",  # CBR refuses < and >
        }
    )


async def act_on_posture(
    store: Store,
    settings: Settings,
    project_id: str,
    region: str,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> ActReport:
    """Submit the backup commands due in ``project_id`` (``sleep``: the pause between two, for the rate)."""
    report = ActReport(project_id)
    due = await store.posture.to_act(project_id, settings.coverage.act_max_per_run)
    for i, resource in enumerate(due):
        if i:
            await sleep(1.0 / settings.coverage.act_rate)
        await _act(store, settings, project_id, region, resource, report)
    return report


async def _act(
    store: Store, settings: Settings, project_id: str, region: str, resource: ToAct, report: ActReport
) -> None:
    try:
        command = backup_command(project_id, region, resource)
        check_acceptable(command, settings)
    except (ValidationError, InvalidCommand) as exc:
        reason = exc.reason if isinstance(exc, InvalidCommand) else f"{exc.error_count()} invalid fields"
        log.warning("stale -> act: no command for resource %s (%s)", resource.resource_id, reason)
        report.count(REFUSED)
    else:
        [verdict] = await store.create_workflows_if_absent([new_workflow(command)])
        # a conflict: the episode's command exists with another vault (the resource moved): it stands
        report.count(SUBMITTED if verdict.verdict is Verdict.NEW else DUPLICATE)
        report.command_ids.append(command.command_id)
    await store.posture.mark_acted(project_id, resource.resource_id, resource.episode)
