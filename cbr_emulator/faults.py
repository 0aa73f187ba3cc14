"""Fault injection: rules that make chosen operations fail, throttle, slow down or lose their answer.

A rule matches a request by SDK operation name, region and project (``"*"`` matches all) and gives
probabilities for each fault kind. Kinds, in the order they are rolled:

* ``throttle``: answer 429 ``APIG.0308`` with ``Retry-After`` (nothing executed);
* ``error``: answer ``error_status`` with a CBR body ``error_code`` / ``error_message`` (nothing
  executed); default 500 ``BackupService.9910``, e.g. 400 ``BackupService.6125`` for "busy";
* ``timeout`` ("execute then time out"): the request IS executed, then the connection is held for
  ``hang_seconds`` and closed without any response;
* ``error_after_execute`` ("execute then answer an error"): the request IS executed, its answer thrown
  away, and the client gets ``error_after_execute_status`` with a gateway body (``error_code``,
  ``error_msg``, ``request_id``); default 504 ``APIG.0201`` "Backend timeout.", what Huawei's API
  gateway answers when the service behind it was too slow — after the service did the work;
* ``latency``: wait ``latency_seconds`` before executing, with ``latency_probability`` (independent of the
  others, added up). Every probability defaults to 0, this one too: a latency rule must give it.

The first rule whose throttle, error, timeout or error-after-execute roll succeeds decides the outcome
(rolled in that order, each only when the ones before it did not fire); latency from every matching
rule is added. ``max_faults`` retires a rule after it has fired that many times. Rolls use one
``random.Random(seed)``, so a given plan and request sequence always gives the same faults.

File / admin body (``FaultPlan``)::

    {"seed": 7, "rules": [{"operation": "create_checkpoint", "region": "*", "timeout_probability": 1.0,
                           "hang_seconds": 5, "max_faults": 1}]}
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cbr_emulator.errors import CbrError, error_table
from cbr_emulator.gateway import GatewayError

Probability = Field(default=0.0, ge=0.0, le=1.0)


class FaultRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operation: str = Field(default="*", min_length=1)
    region: str = Field(default="*", min_length=1)
    project_id: str = Field(default="*", min_length=1)
    throttle_probability: float = Probability
    retry_after_seconds: float = Field(default=1.0, ge=0, le=3600)
    error_probability: float = Probability
    error_status: int = Field(default=500, ge=400, le=599)
    error_code: str = Field(default="BackupService.9910", min_length=1)
    error_message: str | None = None
    timeout_probability: float = Probability
    hang_seconds: float = Field(default=60.0, ge=0, le=3600)
    error_after_execute_probability: float = Probability
    error_after_execute_status: int = Field(default=504, ge=500, le=599)
    error_after_execute_code: str = Field(default="APIG.0201", min_length=1)
    error_after_execute_message: str = Field(default="Backend timeout.", min_length=1)
    latency_seconds: float = Field(default=0.0, ge=0, le=3600)
    latency_probability: float = Probability
    max_faults: int | None = Field(default=None, ge=1)

    def matches(self, operation: str, region: str, project_id: str) -> bool:
        return all(
            wanted in ("*", actual)
            for wanted, actual in (
                (self.operation, operation),
                (self.region, region),
                (self.project_id, project_id),
            )
        )

    def error(self) -> CbrError:
        known = error_table().get(self.error_code, {}).get("message")
        message = self.error_message or (str(known) if known else "Injected fault.")
        return CbrError(self.error_status, self.error_code, message)

    def error_after_execute(self) -> GatewayError:
        return GatewayError(
            self.error_after_execute_status, self.error_after_execute_code, self.error_after_execute_message
        )


class FaultPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    rules: list[FaultRule] = Field(default_factory=list)


@dataclass
class FaultDecision:
    """What to do with one request. ``kinds`` lists every fault that fired (for the counters)."""

    latency: float = 0.0
    throttle_after: float | None = None
    error: CbrError | None = None
    hang_seconds: float | None = None
    error_after_execute: GatewayError | None = None
    kinds: list[str] = field(default_factory=list)

    @property
    def decided(self) -> bool:
        outcomes = (self.throttle_after, self.error, self.hang_seconds, self.error_after_execute)
        return any(outcome is not None for outcome in outcomes)


class FaultPlanError(ValueError):
    """A fault file that cannot be read or does not describe a plan."""


def load_fault_plan(path: Path) -> FaultPlan:
    """A plan from a JSON file: ``{"seed": N, "rules": [...]}`` or a bare list of rules."""
    try:
        data: Any = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FaultPlanError(f"{path}: cannot read a JSON fault plan ({exc})") from None
    try:
        return FaultPlan.model_validate({"rules": data} if isinstance(data, list) else data)
    except ValidationError as exc:
        raise FaultPlanError(f"{path}: {exc}") from None


class Faults:
    """The active plan, its random generator and how often each rule has fired."""

    def __init__(self, plan: FaultPlan | None = None) -> None:
        self.replace(plan or FaultPlan())

    def replace(self, plan: FaultPlan) -> None:
        self._plan = plan
        self._random = random.Random(plan.seed)
        self._fired = [0] * len(plan.rules)

    def clear(self) -> None:
        self.replace(FaultPlan(seed=self._plan.seed))

    @property
    def plan(self) -> FaultPlan:
        return self._plan

    def snapshot(self) -> dict[str, Any]:
        rules = [
            {**rule.model_dump(), "fired": fired}
            for rule, fired in zip(self._plan.rules, self._fired, strict=True)
        ]
        return {"seed": self._plan.seed, "rules": rules}

    def _roll(self, probability: float) -> bool:
        return probability > 0 and self._random.random() < probability

    def decide(self, operation: str, region: str, project_id: str) -> FaultDecision:
        decision = FaultDecision()
        for index, rule in enumerate(self._plan.rules):
            spent = rule.max_faults is not None and self._fired[index] >= rule.max_faults
            if spent or not rule.matches(operation, region, project_id):
                continue
            if self._apply(rule, decision):
                self._fired[index] += 1
        return decision

    def _apply(self, rule: FaultRule, decision: FaultDecision) -> bool:
        """Roll one rule into ``decision``; True when it fired anything."""
        fired = False
        if rule.latency_seconds > 0 and self._roll(rule.latency_probability):
            decision.latency += rule.latency_seconds
            decision.kinds.append("latency")
            fired = True
        if decision.decided:
            return fired
        if self._roll(rule.throttle_probability):
            decision.throttle_after = rule.retry_after_seconds
            decision.kinds.append("throttle")
        elif self._roll(rule.error_probability):
            decision.error = rule.error()
            decision.kinds.append("error")
        elif self._roll(rule.timeout_probability):
            decision.hang_seconds = rule.hang_seconds
            decision.kinds.append("timeout")
        elif self._roll(rule.error_after_execute_probability):
            decision.error_after_execute = rule.error_after_execute()
            decision.kinds.append("error_after_execute")
        return fired or decision.decided
