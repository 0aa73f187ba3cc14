"""One CBR operation as the HTTP layer hands it to the domain, and the domain's answer.

The HTTP layer (``app.py``) authenticates a request, finds the SDK operation it names (from
``orchestrator/cbr/operations.json``), parses the JSON body and builds an :class:`OperationRequest`;
handlers see it through :class:`~cbr_emulator.context.Call`.
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
