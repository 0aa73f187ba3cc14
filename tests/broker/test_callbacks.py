"""Callbacks: a workflow's final event is POSTed, signed, to the callback URL its command named, retried
with backoff until delivered or expired, and never sent to a host off the allow-list."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import aiohttp
import pytest
from aio_pika.abc import AbstractQueue, AbstractRobustConnection
from aiohttp import web
from aiohttp.test_utils import TestServer
from broker_helpers import wait_for
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr
from standardwebhooks import Webhook
from store_rows import raw_sql
from worker_helpers import backup, publish, servers

from orchestrator.broker.callbacks import CallbackDeliverer, backoff_seconds
from orchestrator.config import ApiSettings, Settings
from orchestrator.observability import tracing
from orchestrator.store import Finish, NewWorkflow, OutboxEvent, Store, WorkflowStatus
from orchestrator.store.callbacks import CallbackRecord
from orchestrator.worker import run_worker

SECRET = "whsec_" + base64.b64encode(b"callback-secret-of-32-bytes-long").decode()
FINAL = {"specversion": "1.0", "id": "ev-final", "type": "io.cbr-orchestrator.workflow.succeeded", "data": {}}


@dataclass
class Receiver:
    """A callback receiver on 127.0.0.1 answering ``statuses`` in turn (then 200), recording requests."""

    statuses: list[int] = field(default_factory=list)
    location: str | None = None
    requests: list[tuple[float, dict[str, str], bytes]] = field(default_factory=list)
    server: TestServer | None = None

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((asyncio.get_running_loop().time(), dict(request.headers), await request.read()))
        status = self.statuses.pop(0) if self.statuses else 200
        headers = {"Location": self.location} if self.location and 300 <= status < 400 else {}
        return web.Response(status=status, headers=headers)

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/done"))


@pytest.fixture
async def receivers() -> AsyncIterator[tuple[Receiver, Receiver]]:
    """An allowed receiver (127.0.0.1) and one that must never be called (reached as 'localhost')."""
    found = (Receiver(), Receiver())
    for receiver in found:
        app = web.Application()
        app.router.add_post("/done", receiver.handle)
        receiver.server = TestServer(app, host="127.0.0.1")
        await receiver.server.start_server()
    yield found
    for receiver in found:
        assert receiver.server is not None
        await receiver.server.close()


def callback_settings(**over: Any) -> ApiSettings:
    values: dict[str, Any] = {
        "callback_hosts": ["127.0.0.1"],
        "callback_secret": SecretStr(SECRET),
        "callback_backoff_seconds": 0.1,
        "callback_timeout_seconds": 2.0,
        **over,
    }
    return ApiSettings.model_validate(values)


async def finished_with_callback(store: Store, url: str, traceparent: str | None = None) -> uuid.UUID:
    """A workflow whose command named ``url``, finished with a progress event and then its final event."""
    workflow_id = uuid.uuid4()
    new = NewWorkflow(
        workflow_id, f"c-{workflow_id}", "backup", "p", "r", {"callback_url": url}, traceparent=traceparent
    )
    await store.create_workflows_if_absent([new])
    [claimed] = await store.claim_due("w", 30, 1)
    progress = OutboxEvent(f"ev-progress-{workflow_id}", "workflow.backup.progress", {"id": "p"})
    await store.save_state(claimed.claim, {}, 30, events=[progress])
    final = OutboxEvent(f"ev-final-{workflow_id}", "workflow.backup.succeeded", FINAL)
    await store.finish_with_event(claimed.claim, {}, Finish(WorkflowStatus.SUCCEEDED, {}), final)
    return workflow_id


async def run_until(
    store: Store, deliverer: CallbackDeliverer, workflow_id: uuid.UUID, done: str
) -> CallbackRecord:
    """Run the deliverer until the workflow's callback is ``done`` ('delivered' or 'given up')."""
    stop = asyncio.Event()
    task = asyncio.create_task(deliverer.run(stop))

    async def finished() -> bool:
        [record] = await store.callbacks.of(workflow_id)
        return (record.delivered_at if done == "delivered" else record.given_up_at) is not None

    try:
        await wait_for(finished)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    [record] = await store.callbacks.of(workflow_id)
    return record


async def test_the_final_event_is_delivered_once_signed(
    store: Store, receivers: tuple[Receiver, Receiver]
) -> None:
    receiver, _ = receivers
    workflow_id = await finished_with_callback(store, receiver.url)
    [record] = await store.callbacks.of(workflow_id)  # the final event only, not the progress one
    assert record.event_id == f"ev-final-{workflow_id}" and record.url == receiver.url
    deliverer = CallbackDeliverer(store, callback_settings(), poll_seconds=0.05)
    record = await run_until(store, deliverer, workflow_id, "delivered")
    [(_, headers, body)] = receiver.requests
    assert Webhook(SECRET).verify(body, headers) == FINAL
    assert headers["webhook-id"] == record.event_id
    assert record.attempts == 1 and record.last_error is None
    async with aiohttp.ClientSession() as session:
        assert await deliverer.deliver_due(session) == 0
    assert len(receiver.requests) == 1


async def test_a_failing_receiver_is_retried_with_backoff_until_it_takes_the_event(
    store: Store, receivers: tuple[Receiver, Receiver]
) -> None:
    receiver, _ = receivers
    receiver.statuses = [503, 500, 503]
    workflow_id = await finished_with_callback(store, receiver.url)
    settings = callback_settings()
    deliverer = CallbackDeliverer(store, settings, poll_seconds=0.02)
    record = await run_until(store, deliverer, workflow_id, "delivered")
    assert len(receiver.requests) == 4 and record.attempts == 4
    assert record.last_error == "HTTP 503"
    gaps = [
        later[0] - earlier[0]
        for earlier, later in zip(receiver.requests, receiver.requests[1:], strict=False)
    ]
    least = [backoff_seconds(n, settings, jitter=0.0) for n in (1, 2, 3)]  # 0.05, 0.1, 0.2
    assert all(gap >= wait * 0.9 for gap, wait in zip(gaps, least, strict=True)), gaps
    assert gaps[2] > gaps[0]
    assert {r[1]["webhook-id"] for r in receiver.requests} == {record.event_id}  # one event, four tries


def test_the_backoff_doubles_up_to_its_cap_with_up_to_half_left_out() -> None:
    settings = callback_settings(callback_backoff_seconds=2.0, callback_backoff_max_seconds=60.0)
    assert [backoff_seconds(n, settings, 0.999999) for n in (1, 2, 3)] == pytest.approx([2, 4, 8])
    assert [backoff_seconds(n, settings, 0.0) for n in (1, 2, 3)] == [1, 2, 4]
    assert backoff_seconds(30, settings, 0.999999) == pytest.approx(60)


async def test_a_callback_never_taken_expires_with_its_last_error(
    store: Store, receivers: tuple[Receiver, Receiver]
) -> None:
    receiver, _ = receivers
    receiver.statuses = [500] * 100
    workflow_id = await finished_with_callback(store, receiver.url)
    deliverer = CallbackDeliverer(store, callback_settings(callback_expire_seconds=0.5), poll_seconds=0.02)
    record = await run_until(store, deliverer, workflow_id, "given up")
    assert record.delivered_at is None
    assert record.last_error == f"expired after {record.attempts} attempts: HTTP 500"
    tried = len(receiver.requests)
    assert tried == record.attempts >= 2
    await asyncio.sleep(0.3)
    assert len(receiver.requests) == tried


async def test_no_request_goes_to_a_host_off_the_allow_list(
    store: Store, receivers: tuple[Receiver, Receiver]
) -> None:
    _, elsewhere = receivers
    off_list = elsewhere.url.replace("127.0.0.1", "localhost")  # the same server, by a name not allowed
    workflow_id = await finished_with_callback(store, off_list)
    deliverer = CallbackDeliverer(store, callback_settings(), poll_seconds=0.05)
    record = await run_until(store, deliverer, workflow_id, "given up")
    assert record.last_error == "host localhost is not on the allow-list"
    assert elsewhere.requests == []


async def test_an_allowed_name_that_resolves_to_an_internal_address_is_not_called(
    store: Store, receivers: tuple[Receiver, Receiver]
) -> None:
    """'localhost' is on the list, but it resolves to 127.0.0.1: as a rebound DNS name would."""
    receiver, _ = receivers
    by_name = receiver.url.replace("127.0.0.1", "localhost")
    workflow_id = await finished_with_callback(store, by_name)
    settings = callback_settings(callback_hosts=["localhost"], callback_expire_seconds=0.5)
    record = await run_until(
        store, CallbackDeliverer(store, settings, poll_seconds=0.02), workflow_id, "given up"
    )
    assert record.last_error is not None
    assert record.last_error.endswith("not delivered: the host resolves only to internal addresses")
    assert receiver.requests == []


async def test_internal_addresses_are_called_when_the_operator_allows_them(
    store: Store, receivers: tuple[Receiver, Receiver]
) -> None:
    receiver, _ = receivers
    by_name = receiver.url.replace("127.0.0.1", "localhost")
    workflow_id = await finished_with_callback(store, by_name)
    settings = callback_settings(callback_hosts=["localhost"], callback_private_networks=True)
    record = await run_until(
        store, CallbackDeliverer(store, settings, poll_seconds=0.02), workflow_id, "delivered"
    )
    assert record.attempts == 1 and len(receiver.requests) == 1


async def test_a_redirect_is_not_followed(store: Store, receivers: tuple[Receiver, Receiver]) -> None:
    receiver, elsewhere = receivers
    receiver.statuses = [307, 200]
    receiver.location = elsewhere.url.replace("127.0.0.1", "localhost")
    workflow_id = await finished_with_callback(store, receiver.url)
    deliverer = CallbackDeliverer(store, callback_settings(), poll_seconds=0.02)
    record = await run_until(store, deliverer, workflow_id, "delivered")
    assert record.last_error == "HTTP 307" and record.attempts == 2
    assert elsewhere.requests == []


async def test_a_workflow_without_a_callback_has_no_delivery_row(store: Store) -> None:
    workflow_id = uuid.uuid4()
    new = NewWorkflow(workflow_id, f"c-{workflow_id}", "backup", "p", "r", {"callback_url": None})
    await store.create_workflows_if_absent([new])
    [claimed] = await store.claim_due("w", 30, 1)
    final = OutboxEvent(f"ev-{workflow_id}", "workflow.backup.succeeded", FINAL)
    await store.finish_with_event(claimed.claim, {}, Finish(WorkflowStatus.SUCCEEDED, {}), final)
    assert await store.callbacks.of(workflow_id) == []
    assert await raw_sql(store).fetchval("SELECT count(*) FROM callbacks") == 0


async def test_a_worker_calls_back_when_a_queued_command_finishes(
    worker_settings: Settings,
    store: Store,
    connection: AbstractRobustConnection,
    events_queue: AbstractQueue,
    receivers: tuple[Receiver, Receiver],
) -> None:
    receiver, _ = receivers
    settings = worker_settings.model_copy(update={"api": callback_settings()})
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(settings, stop))
    try:
        command = backup("called-back", servers(1)[0], callback_url=receiver.url)
        await publish(
            connection, settings.names.commands_queue, [aio_pika.Message(json.dumps(command).encode())]
        )

        async def called_back() -> bool:
            return len(receiver.requests) == 1

        await wait_for(called_back, seconds=30)
    finally:
        stop.set()
        await asyncio.wait_for(worker, 30)
    [(_, headers, body)] = receiver.requests
    event = Webhook(SECRET).verify(body, headers)
    assert event["data"]["command_id"] == "called-back" and event["data"]["outcome"] == "succeeded"


async def test_a_callback_continues_the_commands_trace_and_its_span_keeps_no_query(
    store: Store, receivers: tuple[Receiver, Receiver]
) -> None:
    receiver, _ = receivers
    trace, span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    secret = "query-token-9f2c"
    url, traceparent = f"{receiver.url}?token={secret}", f"00-{trace}-{span}-01"
    workflow_id = await finished_with_callback(store, url, traceparent)
    deliverer = CallbackDeliverer(store, callback_settings(), poll_seconds=0.05)
    exporter = InMemorySpanExporter()
    assert tracing.setup_tracing("test-callbacks", exporter)
    try:
        await run_until(store, deliverer, workflow_id, "delivered")
    finally:
        tracing.shutdown_tracing()
    [(_, headers, _)] = receiver.requests
    [post] = [s for s in exporter.get_finished_spans() if s.name == "POST"]
    assert post.parent is not None and format(post.parent.span_id, "016x") == span
    assert post.context is not None
    assert headers["traceparent"] == f"00-{trace}-{format(post.context.span_id, '016x')}-01"
    recorded = [str(value) for s in exporter.get_finished_spans() for value in (s.attributes or {}).values()]
    assert any(receiver.url in value for value in recorded)  # the URL is there, its query is not
    assert not any(secret in value for value in recorded)
