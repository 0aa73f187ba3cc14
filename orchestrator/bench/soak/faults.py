"""The fault plans the soak puts on the emulator in turn (``PUT /_emulator/faults``).

Each plan is what a real cloud does on a bad day: throttling with ``Retry-After``, 5xx answers (a gateway's
502/503/504 as well as the service's 500), calls that execute and then lose their answer or get a 504 from
the gateway anyway, slow lookups.
Probabilities are high enough to hit many calls and low enough that work goes on; the last plan mixes
everything (the recipe of issue 7's first finding: lost answers and 5xx on calls, 429 on every call).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# CBR calls that change something and are not idempotent: the ones that can be duplicated
NON_IDEMPOTENT = ("create_checkpoint", "restore_backup", "copy_backup", "create_vault")
LOOKUPS = ("list_backups", "list_op_logs", "show_checkpoint", "show_backup", "list_vault", "show_vault")


@dataclass(frozen=True)
class FaultPlan:
    name: str
    rules: list[dict[str, Any]]
    share: int = 1

    def body(self, seed: int) -> dict[str, Any]:
        return {"seed": seed, "rules": self.rules}


def _throttling(probability: float) -> list[dict[str, Any]]:
    return [{"operation": "*", "throttle_probability": probability, "retry_after_seconds": 1}]


def _server_errors(probability: float) -> list[dict[str, Any]]:
    statuses = (500, 502, 503, 504)
    share = probability / len(statuses)
    rules = [
        {"operation": op, "error_probability": share / (1 - share * i), "error_status": status}
        for op in NON_IDEMPOTENT
        for i, status in enumerate(statuses)
    ]
    return [*rules, *({"operation": op, "error_probability": probability / 3} for op in LOOKUPS)]


def _lost_answers(probability: float, hang_seconds: float) -> list[dict[str, Any]]:
    rule = {"timeout_probability": probability, "hang_seconds": hang_seconds}
    return [{"operation": op, **rule} for op in NON_IDEMPOTENT]


def _gateway_after_execution(probability: float) -> list[dict[str, Any]]:
    """The call executes, and the gateway answers 504 anyway (a definite-looking answer that is not)."""
    return [{"operation": op, "error_after_execute_probability": probability} for op in NON_IDEMPOTENT]


def _slow(operations: tuple[str, ...], probability: float, seconds: float) -> list[dict[str, Any]]:
    return [
        {"operation": op, "latency_seconds": seconds, "latency_probability": probability} for op in operations
    ]


def fault_plans(hang_seconds: float) -> list[FaultPlan]:
    """The plans in the order they are applied; ``share`` is each one's part of the chaos window."""
    return [
        FaultPlan("execute-then-timeout", _lost_answers(0.3, hang_seconds)),
        FaultPlan("5xx on calls and lookups", _server_errors(0.25)),
        FaultPlan("504 after execution", _gateway_after_execution(0.3)),
        FaultPlan("429 + Retry-After on every call", _throttling(0.25)),  # meets the RabbitMQ restart
        # slow calls: kills and SIGTERMs fall while calls are in flight
        FaultPlan("slow lookups and calls", [*_slow(LOOKUPS, 0.4, 1.5), *_slow(NON_IDEMPOTENT, 0.3, 2.0)]),
        FaultPlan(
            "all at once",
            [
                *_lost_answers(0.25, hang_seconds),
                *_gateway_after_execution(0.15),
                *_server_errors(0.3),
                *_throttling(0.3),
                *_slow(LOOKUPS, 0.2, 1.0),
            ],
            share=2,
        ),
    ]
