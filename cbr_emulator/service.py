"""The contract between the emulator's HTTP layer and its domain.

The HTTP layer (``app.py``) authenticates a request, finds the SDK operation it names (from
``orchestrator/cbr/operations.json``), parses the JSON body and hands an :class:`OperationRequest`
(``operation.py``) to :meth:`Emulator.handle`. The domain validates everything itself, answers with an
:class:`OperationResponse` or raises :class:`~cbr_emulator.errors.CbrError`.

The domain, one noun per module: ``clock`` (time), ``inventory`` (fake servers and disks), ``state``
(the dataclasses), ``validation`` (bodies and queries), ``progression`` (timers and the task state
machine), ``vaults``, ``checkpoints`` (backup runs), ``backups`` (queries, deletion, restore),
``replication``, ``deletion``, ``retention``, ``operation_logs``, ``policies`` (RRULE schedules),
``tags``, ``members``, ``protectables``; ``context`` holds the world and the per-call view of it and
``dispatch`` maps SDK operation names to handlers.
Domain-level nouns: ``domain_state`` (what a domain holds), ``domains`` (projects and domain look-ups),
``organization_policies``, ``migrations``; vault extras: ``vault_settings``, ``resource_migration``,
``backup_expiration``, ``external_vaults``.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from cbr_emulator.clock import Clock, stamp
from cbr_emulator.config import EmulatorConfig, Progression, Tenant
from cbr_emulator.context import Call, World
from cbr_emulator.dispatch import HANDLERS
from cbr_emulator.errors import CbrError
from cbr_emulator.gateway import GatewayError
from cbr_emulator.inventory_listing import project_listing
from cbr_emulator.ledger import project_ledger
from cbr_emulator.operation import OperationRequest, OperationResponse
from cbr_emulator.state import ProjectState
from orchestrator.cbr.operations import success_statuses

log = logging.getLogger(__name__)
# the operations that render a task's progress: running tasks are brought up to date before them
SHOWS_PROGRESS = frozenset({"list_op_logs", "show_op_log", "list_backups", "show_backup"})


class Emulator:
    """The CBR v3 domain: in-memory state per (region, project), progressed on ``clock``.

    ``handle`` is synchronous and answers from memory; it first brings time up to date (``tick``).
    A handler validates the whole request before it changes anything, so a refused request leaves
    the state as it was.
    """

    def __init__(self, config: EmulatorConfig, clock: Clock) -> None:
        self.world = World(config, clock)
        self.clock = clock
        self.revision = 0  # goes up with every change that may have happened: a state file saves on it

    @property
    def config(self) -> EmulatorConfig:
        return self.world.config

    @property
    def tenants(self) -> list[Tenant]:
        return list(self.config.tenants)

    def tenant_for_project(self, project_id: str) -> Tenant | None:
        return next((t for t in self.config.tenants if t.project_id == project_id), None)

    def set_progression(self, progression: Progression) -> None:
        """Change how fast tasks run; unfinished tasks are re-timed, keeping the share already done."""
        self.tick()
        self.world.config = self.config.model_copy(update={"progression": progression})
        self.world.runner.replan(self.clock.now())

    def set_backup_capacity(self, capacity: int | None) -> None:
        """Change how many backup tasks run at once per project; queued ones start if slots opened."""
        self.tick()
        self.world.config = self.config.model_copy(update={"backup_capacity": capacity})
        self.world.runner.fill(self.clock.now())

    def reset_peaks(self) -> None:
        self.world.runner.reset_peaks()

    def tick(self) -> None:
        """Bring every task, schedule and retention rule up to ``clock.now()``.

        The progress percentage of running tasks is brought up to date only by the operations that
        show it (:data:`SHOWS_PROGRESS`), so that a tick costs only the transitions that are due.
        """
        if self.world.scheduler.run_until(self.clock.now()):
            self.revision += 1

    def handle(self, request: OperationRequest) -> OperationResponse:
        """Answer one CBR operation, or raise :class:`CbrError` (:class:`GatewayError` 404 ``APIGW.0101`` for
        an operation the emulator does not implement)."""
        handler = HANDLERS.get(request.operation)
        if handler is None:  # what the gateway answers for an API it does not publish; never a 5xx to retry
            raise GatewayError.not_found()
        self.tick()
        if request.operation in SHOWS_PROGRESS:
            self.world.runner.refresh(self.clock.now())
        call = Call(
            self.world, self.world.project(request.region, request.project_id), request, self.clock.now()
        )
        self.revision += 1
        try:
            body = handler(call)
        except CbrError:
            raise
        except Exception as error:  # a bug must still answer in CBR's shape
            log.exception("emulator handler %s failed", request.operation)
            raise CbrError.of("9910", f"The emulator failed: {type(error).__name__}.") from error
        return OperationResponse(success_statuses().get(request.operation, 200), body)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary for the admin endpoint."""
        return {
            "clock": stamp(self.clock.now()),
            "manual_clock": self.clock.manual,
            "progression": self.config.progression.model_dump(),
            "pending_timers": len(self.world.scheduler),
            "running_tasks": len(self.world.runner),
            "backup_capacity": self.config.backup_capacity,
            "timer_failures": self.world.scheduler.failures,
            "projects": [self._summary(state) for state in self.world.projects.values()],
        }

    def ledger(self) -> dict[str, Any]:
        """Every checkpoint, backup, restore and replication record of every project (admin, read-only)."""
        self.tick()
        return {"projects": [project_ledger(state) for state in self.world.projects.values()]}

    def inventory(self, region: str | None = None, project_id: str | None = None) -> dict[str, Any]:
        """The servers and disks of every tenant's project, or of those in ``region`` / ``project_id``,
        each with its vault and newest backup (admin, read-only)."""
        self.tick()
        chosen = dict.fromkeys(
            (t.region, t.project_id)
            for t in self.config.tenants
            if region in (None, t.region) and project_id in (None, t.project_id)
        )
        return {"projects": [project_listing(self.world.project(*key)) for key in chosen]}

    def _summary(self, state: ProjectState) -> dict[str, Any]:
        tasks = self.world.runner.pool(self.world.backup_pool(state))
        return {**_objects(state), "backup_tasks": tasks.describe()}


def _objects(state: ProjectState) -> dict[str, Any]:
    top_level = [b for b in state.backups.values() if b.parent_id is None]
    return {
        "region": state.region,
        "project_id": state.project_id,
        "vaults": len(state.vaults),
        "backups": dict(Counter(b.status for b in top_level)),
        "checkpoints": len(state.checkpoints),
        "operation_logs": dict(Counter(log.status for log in state.op_logs.values())),
        "policies": len(state.policies),
        "servers": len(state.inventory.servers),
        "disks": len(state.inventory.disks),
    }
