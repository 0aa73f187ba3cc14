"""The API's requests are counted and timed by route template and status, never by raw path."""

from __future__ import annotations

import uuid
from typing import Any

from api_helpers import bearer
from api_types import MakeKey
from prometheus_client import REGISTRY

ONE_WORKFLOW = "/v1/workflows/{id}"


def count(route: str, status: str) -> float:
    return REGISTRY.get_sample_value("cbr_orch_api_requests_total", {"route": route, "status": status}) or 0.0


def timed(route: str) -> float:
    return REGISTRY.get_sample_value("cbr_orch_api_request_duration_seconds_count", {"route": route}) or 0.0


def routes_seen() -> set[str]:
    return {
        s.labels["route"]
        for family in REGISTRY.collect()
        if family.name == "cbr_orch_api_requests"
        for s in family.samples
    }


async def test_requests_count_under_their_route_template_and_status(client: Any, make_key: MakeKey) -> None:
    key = await make_key(("read",))
    missing, health, unmatched = (
        count(ONE_WORKFLOW, "404"),
        count("/healthz", "200"),
        count("unmatched", "404"),
    )
    timed_before = timed(ONE_WORKFLOW)
    unknown = str(uuid.uuid4())
    assert (await client.get(f"/v1/workflows/{unknown}", headers=bearer(key))).status == 404
    assert (await client.get("/healthz")).status == 200
    assert (await client.get(f"/no/such/{unknown}")).status == 404
    assert count(ONE_WORKFLOW, "404") == missing + 1
    assert timed(ONE_WORKFLOW) == timed_before + 1
    assert count("/healthz", "200") == health + 1
    assert count("unmatched", "404") == unmatched + 1
    assert not [route for route in routes_seen() if unknown in route]  # no id ever becomes a label
