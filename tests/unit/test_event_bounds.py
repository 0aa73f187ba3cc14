"""A final event stays within 256 KiB whatever its resource list: the list is cut, and says so."""

from __future__ import annotations

import json
from typing import Any

from orchestrator.engine.events import MAX_EVENT_BYTES, _bounded


def event_with(resources: int) -> dict[str, Any]:
    listed = [
        {
            "resource_id": f"{i:036d}",
            "status": "failed",
            "error_code": "BackupService.6114",
            "error_message": "x" * 80,
        }
        for i in range(resources)
    ]
    return {
        "id": "e",
        "type": "io.cbr-orchestrator.workflow.failed",
        "data": {"outcome": "failed", "resources": listed},
    }


def size(body: dict[str, Any]) -> int:
    return len(json.dumps(body).encode())


def test_a_small_event_is_left_as_it_is() -> None:
    body = event_with(10)
    assert _bounded(json.loads(json.dumps(body))) == body


def test_a_large_resource_list_is_cut_to_fit_and_says_how_many_there_were() -> None:
    body = event_with(5_000)
    assert size(body) > 3 * MAX_EVENT_BYTES
    cut = _bounded(body)
    data = cut["data"]
    assert size(cut) <= MAX_EVENT_BYTES
    assert data["resources_truncated"] is True and data["resources_total"] == 5_000
    assert 1_000 < len(data["resources"]) < 5_000  # as many as fit, the first ones
    assert data["resources"][0]["resource_id"] == f"{0:036d}"
    assert size(cut) > MAX_EVENT_BYTES - 1_000  # filled, not emptied
