"""Request counters of the emulator's CBR API, readable and resettable through the admin API.

Counted: every authenticated CBR request per (operation, region, project); every CBR response by
HTTP status, and by SDK operation and status (``unrouted`` for a path no operation has); 429 answers
by cause (``rate_limit`` or injected ``fault``), in all and per project; injected faults by kind
(``error``, ``throttle``, ``latency``, ``timeout``, ``error_after_execute``) and by operation;
authentication failures; the latency of CBR answers (``latency``: count, mean, p50, p95, p99, max in ms,
see ``latency.py``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from cbr_emulator.latency import LatencySummary

UNROUTED = "unrouted"  # a request whose method and path name no SDK operation


class Counters:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._requests: Counter[tuple[str, str, str]] = Counter()
        self._statuses: Counter[str] = Counter()
        self._statuses_by_operation: Counter[tuple[str, str]] = Counter()  # (operation, status)
        self._throttled: Counter[str] = Counter()
        self._throttled_by_project: Counter[tuple[str, str]] = Counter()  # (project id, cause)
        self._faults: Counter[str] = Counter()
        self._faults_by_operation: Counter[str] = Counter()
        self._auth_failures = 0
        self._latency = LatencySummary()

    def record_request(self, operation: str, region: str, project_id: str) -> None:
        self._requests[(operation, region, project_id)] += 1

    def record_status(self, status: str, operation: str = UNROUTED) -> None:
        """``"200"``, ``"404"`` … or ``"no_response"`` (execute-then-time-out), of ``operation``."""
        self._statuses[status] += 1
        self._statuses_by_operation[(operation, status)] += 1

    def responses_of(self, operation: str, status: str) -> int:
        return self._statuses_by_operation[(operation, status)]

    def _responses_per_operation(self) -> dict[str, dict[str, int]]:
        grouped: dict[str, dict[str, int]] = {}
        for (operation, status), count in sorted(self._statuses_by_operation.items()):
            grouped.setdefault(operation, {})[status] = count
        return grouped

    def record_latency(self, seconds: float) -> None:
        self._latency.record(seconds)

    def record_throttled(self, cause: str, project_id: str) -> None:
        self._throttled[cause] += 1
        self._throttled_by_project[(project_id, cause)] += 1

    def throttled_of(self, project_id: str) -> int:
        return sum(n for (project, _), n in self._throttled_by_project.items() if project == project_id)

    def _throttled_per_project(self) -> dict[str, dict[str, int]]:
        grouped: dict[str, dict[str, int]] = {}
        for (project, cause), count in sorted(self._throttled_by_project.items()):
            causes = grouped.setdefault(project, {"total": 0})
            causes["total"] += count
            causes[cause] = count
        return grouped

    def record_faults(self, operation: str, kinds: list[str]) -> None:
        for kind in kinds:
            self._faults[kind] += 1
            self._faults_by_operation[operation] += 1

    def record_auth_failure(self) -> None:
        self._auth_failures += 1

    def requests_of(self, operation: str) -> int:
        return sum(count for (op, _, _), count in self._requests.items() if op == operation)

    def _group(self, position: int) -> dict[str, int]:
        grouped: Counter[str] = Counter()
        for key, count in self._requests.items():
            grouped[key[position]] += count
        return dict(sorted(grouped.items()))

    def snapshot(self) -> dict[str, Any]:
        detail = [
            {"operation": op, "region": region, "project_id": project, "count": count}
            for (op, region, project), count in sorted(self._requests.items())
        ]
        return {
            "requests": {
                "total": sum(self._requests.values()),
                "by_operation": self._group(0),
                "by_region": self._group(1),
                "by_project": self._group(2),
                "detail": detail,
            },
            "responses": dict(sorted(self._statuses.items())),
            "responses_by_operation": self._responses_per_operation(),
            "throttled": {"total": sum(self._throttled.values()), **dict(sorted(self._throttled.items()))},
            "throttled_by_project": self._throttled_per_project(),
            "faults": {
                "total": sum(self._faults.values()),
                "by_kind": dict(sorted(self._faults.items())),
                "by_operation": dict(sorted(self._faults_by_operation.items())),
            },
            "auth_failures": self._auth_failures,
            "latency": self._latency.snapshot(),
        }
