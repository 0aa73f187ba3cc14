"""The contract between the emulator's HTTP layer and its domain.

The HTTP layer (``app.py``) authenticates a request, finds the SDK operation it names (from
``orchestrator/data/cbr-operations.json``), parses the JSON body and hands an :class:`OperationRequest`
to :meth:`Emulator.handle`. The domain validates everything itself, answers with an
:class:`OperationResponse` or raises :class:`~orchestrator.emulator.errors.CbrError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class OperationRequest:
    region: str
    project_id: str
    operation: str  # SDK operation name, e.g. "create_checkpoint"
    path: dict[str, str] = field(default_factory=dict)  # path parameters, decoded, without project_id
    query: list[tuple[str, str]] = field(default_factory=list)  # decoded pairs, repeats kept
    body: Any = None  # parsed JSON, or None when the request had no body


@dataclass(frozen=True)
class OperationResponse:
    status: int
    body: Any = None  # JSON-ready value; None means an empty body


# --- the emulator (skeleton: operations are being filled in) -------------------------------------

from orchestrator.emulator.clock import Clock  # noqa: E402
from orchestrator.emulator.config import EmulatorConfig, Progression, Tenant  # noqa: E402
from orchestrator.emulator.errors import CbrError  # noqa: E402


class Emulator:
    """The CBR v3 domain: in-memory state per (region, project), progressed on ``clock``."""

    def __init__(self, config: EmulatorConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock

    @property
    def tenants(self) -> list[Tenant]:
        return list(self.config.tenants)

    def tenant_for_project(self, project_id: str) -> Tenant | None:
        return next((t for t in self.config.tenants if t.project_id == project_id), None)

    def set_progression(self, progression: Progression) -> None:
        self.config = self.config.model_copy(update={"progression": progression})

    def tick(self) -> None:
        """Bring every task, schedule and retention rule up to ``clock.now()``."""

    def handle(self, request: OperationRequest) -> OperationResponse:
        raise CbrError(501, "BackupService.9910", f"Operation {request.operation} is not supported yet.")

    def describe(self) -> dict[str, Any]:
        return {"clock": self.clock.now().isoformat(), "projects": []}
