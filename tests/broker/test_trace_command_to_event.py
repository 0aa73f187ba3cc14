"""One trace from a command to its completion event: a backup command sent on RabbitMQ with a W3C
``traceparent`` header, run by a real worker on the emulator with tracing on (the SDK's in-memory exporter);
the spans of its acceptance, its runs, its CBR calls (one per operation, and the HTTP request under each),
its SQL statements and the publication of its completion event are all in the command's trace, and the
event message carries that trace on. The captured tree is written to ``test-artifacts/trace.txt``."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import aio_pika
import pytest
from aio_pika.abc import AbstractQueue, AbstractRobustConnection
from broker_helpers import drain, wait_for
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from span_tree import parent_id, render, span_id, trace_id
from worker_helpers import backup, publish, running_worker, servers

from orchestrator.config import Settings
from orchestrator.observability import tracing
from orchestrator.store import Store, WorkflowStatus

TRACE_FILE = Path(__file__).resolve().parents[2] / "test-artifacts" / "trace.txt"
SENDER_TRACE, SENDER_SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


@contextlib.contextmanager
def traced() -> Iterator[InMemorySpanExporter]:
    captured = InMemorySpanExporter()
    assert tracing.setup_tracing("cbr-orchestrator-test", captured)
    try:
        yield captured
    finally:
        tracing.shutdown_tracing()


def _keys(span: ReadableSpan) -> set[str]:
    return set(span.attributes or {})


def of_kind(spans: list[ReadableSpan], kind: SpanKind) -> list[ReadableSpan]:
    return [s for s in spans if s.kind is kind]


async def test_one_trace_runs_from_the_command_through_cbr_and_sql_to_the_completion_event(
    worker_settings: Settings,
    store: Store,
    connection: AbstractRobustConnection,
    events_queue: AbstractQueue,
) -> None:
    command_id = f"traced-{uuid.uuid4().hex[:8]}"
    command = aio_pika.Message(
        json.dumps(backup(command_id, servers(1)[0])).encode(),
        headers={"traceparent": f"00-{SENDER_TRACE}-{SENDER_SPAN}-01"},
    )
    # sent as a service that does not trace itself would: the header as given, before tracing is on here
    await publish(connection, worker_settings.names.commands_queue, [command])

    async def succeeded() -> bool:
        wf = await store.workflow_by_command(command_id)
        return wf is not None and wf.status is WorkflowStatus.SUCCEEDED

    with traced() as exporter:
        async with running_worker(worker_settings, []):
            await wait_for(succeeded, seconds=30)
            events = await drain(events_queue, 10, seconds=3)
    final = next(m for m in events if json.loads(m.body)["type"].endswith(".succeeded"))
    spans = list(exporter.get_finished_spans())
    TRACE_FILE.parent.mkdir(exist_ok=True)
    TRACE_FILE.write_text(render([s for s in spans if trace_id(s) == SENDER_TRACE]))

    ours = [s for s in spans if trace_id(s) == SENDER_TRACE]
    names = [s.name for s in ours]
    [received] = [s for s in of_kind(ours, SpanKind.CONSUMER) if s.name.endswith("receive")]
    assert parent_id(received) == SENDER_SPAN  # the message's header is the parent of all that follows
    [accepted] = [s for s in ours if s.name == "command accept"]
    assert parent_id(accepted) == span_id(received)
    runs = [s for s in ours if s.name == "workflow run backup"]
    assert runs and all(parent_id(r) == span_id(accepted) for r in runs)  # each run, the stored context
    assert "cbr create_checkpoint" in names
    cbr_calls = [s for s in ours if s.name.startswith("cbr ")]
    http = [s for s in of_kind(ours, SpanKind.CLIENT) if {"http.method", "http.request.method"} & _keys(s)]
    assert {parent_id(h) for h in http} <= {span_id(c) for c in cbr_calls}  # each request under its call
    assert len(http) >= len(cbr_calls)
    sql = [s for s in of_kind(ours, SpanKind.CLIENT) if {"db.system", "db.system.name"} & _keys(s)]
    assert sql, "no SQL statement in the command's trace"
    assert any(parent_id(s) in {span_id(r) for r in runs} for s in sql)  # the runs' own writes
    [published] = [s for s in of_kind(ours, SpanKind.PRODUCER) if final.routing_key in s.name]
    headers = final.headers or {}
    assert headers["traceparent"] == f"00-{SENDER_TRACE}-{span_id(published)}-01"
    assert parent_id(published) == span_id(accepted)


@pytest.mark.parametrize("sent", [f"00-{SENDER_TRACE}-{SENDER_SPAN}-01", "00-not-a-trace-context", None])
async def test_with_tracing_off_a_valid_traceparent_is_kept_with_the_workflow_and_passed_on_unchanged(
    sent: str | None,
    worker_settings: Settings,
    store: Store,
    connection: AbstractRobustConnection,
    events_queue: AbstractQueue,
) -> None:
    assert not tracing.enabled()
    command_id = f"untraced-{uuid.uuid4().hex[:8]}"
    body = json.dumps(backup(command_id, servers(1)[0])).encode()
    command = aio_pika.Message(body, headers={"traceparent": sent} if sent else {})

    async def finished() -> bool:
        wf = await store.workflow_by_command(command_id)
        return wf is not None and wf.status is WorkflowStatus.SUCCEEDED

    async with running_worker(worker_settings, []):
        await publish(connection, worker_settings.names.commands_queue, [command])
        await wait_for(finished, seconds=30)
        events = await drain(events_queue, 10, seconds=3)
    kept = sent if sent is not None and "not-a" not in sent else None
    workflow = await store.workflow_by_command(command_id)
    assert workflow is not None and workflow.traceparent == kept
    assert events and all((m.headers or {}).get("traceparent") == kept for m in events)


async def test_a_workflow_run_by_another_worker_later_continues_the_commands_trace(
    worker_settings: Settings,
    store: Store,
    connection: AbstractRobustConnection,
    events_queue: AbstractQueue,
) -> None:
    """Taken in by a worker that does not trace and runs nothing, run by another that traces: the stored
    traceparent is all the second one has, and its runs and the event's publication continue it."""
    command_id = f"handed-over-{uuid.uuid4().hex[:8]}"
    body = json.dumps(backup(command_id, servers(1)[0])).encode()
    command = aio_pika.Message(body, headers={"traceparent": f"00-{SENDER_TRACE}-{SENDER_SPAN}-01"})

    async def stored() -> bool:
        return await store.workflow_by_command(command_id) is not None

    async def succeeded() -> bool:
        wf = await store.workflow_by_command(command_id)
        return wf is not None and wf.status is WorkflowStatus.SUCCEEDED

    async with running_worker(worker_settings, [], engine=False):
        await publish(connection, worker_settings.names.commands_queue, [command])
        await wait_for(stored, seconds=30)
    with traced() as exporter:
        async with running_worker(worker_settings, []):
            await wait_for(succeeded, seconds=30)
            events = await drain(events_queue, 10, seconds=3)
    spans = [s for s in exporter.get_finished_spans() if trace_id(s) == SENDER_TRACE]
    runs = [s for s in spans if s.name == "workflow run backup"]
    [published] = [s for s in of_kind(spans, SpanKind.PRODUCER) if ".succeeded" in s.name]
    assert runs and all(parent_id(s) == SENDER_SPAN for s in [*runs, published])
    final = next(m for m in events if json.loads(m.body)["type"].endswith(".succeeded"))
    assert (final.headers or {})["traceparent"] == f"00-{SENDER_TRACE}-{span_id(published)}-01"
