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
