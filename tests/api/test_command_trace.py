"""A command posted over HTTP continues the trace of its request's ``traceparent``: kept with its workflow
as it came with tracing off, and as the child span it was accepted in with tracing on (same trace)."""

from __future__ import annotations

from typing import Any

from api_helpers import backup_body, bearer
from api_types import MakeKey
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from orchestrator.messages import workflow_id_for
from orchestrator.observability import tracing
from orchestrator.store import Store

TRACE, SPAN = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
SENT = f"00-{TRACE}-{SPAN}-01"


async def stored_traceparent(store: Store, command_id: str) -> str | None:
    workflow = await store.get_workflow(workflow_id_for(command_id))
    assert workflow is not None
    return workflow.traceparent


async def test_with_tracing_off_the_requests_traceparent_is_kept_as_it_came_and_a_bad_one_not_at_all(
    client: Any, store: Store, make_key: MakeKey
) -> None:
    key = await make_key(("backup",))
    for command_id, header in (("traced", SENT), ("garbled", "00-xyz"), ("plain", None)):
        headers = bearer(key) | ({"traceparent": header} if header else {})
        answer = await client.post("/v1/commands", json=backup_body(command_id), headers=headers)
        assert answer.status == 202
    assert await stored_traceparent(store, "traced") == SENT
    assert await stored_traceparent(store, "garbled") is None
    assert await stored_traceparent(store, "plain") is None


async def test_with_tracing_on_the_workflow_continues_the_requests_trace(
    client: Any, store: Store, make_key: MakeKey
) -> None:
    key = await make_key(("backup",))
    exporter = InMemorySpanExporter()
    assert tracing.setup_tracing("test-api", exporter)
    try:
        headers = bearer(key) | {"traceparent": SENT}
        answer = await client.post("/v1/commands", json=backup_body("traced-on"), headers=headers)
        assert answer.status == 202
    finally:
        tracing.shutdown_tracing()
    [accepted] = [s for s in exporter.get_finished_spans() if s.name == "command accept"]
    assert accepted.context is not None and accepted.parent is not None
    assert format(accepted.parent.span_id, "016x") == SPAN
    span_id = format(accepted.context.span_id, "016x")
    assert await stored_traceparent(store, "traced-on") == f"00-{TRACE}-{span_id}-01"
