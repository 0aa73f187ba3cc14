"""Bad messages through a real worker: each dead-lettered on its first delivery with a reason, while valid
commands complete and neither of the worker's connections is ever closed."""

from __future__ import annotations

import json

import aio_pika
from aio_pika.abc import AbstractQueue, AbstractRobustConnection
from broker_helpers import drain, wait_for
from worker_helpers import backup, publish, running_worker, servers, with_raw

from orchestrator.broker import REASON_HEADER
from orchestrator.broker.topology import DROPPED_HEADERS_HEADER
from orchestrator.config import Settings
from orchestrator.store import Store, WorkflowStatus


def bad_messages(server: str) -> dict[str, tuple[bytes, str]]:
    """Message id → body, and the start of the reason it must be refused with."""
    deep = '{"a": 1}'.replace("1", "[" * 30_000 + "]" * 30_000)  # 60 kB, under the size cap
    huge_number = {"name": "v", "create": {"size_gb": "@RAW@"}}
    return {
        "deep": (with_raw(backup("deep", server, x="@RAW@"), deep), "malformed: nested deeper than 64"),
        "version": (
            with_raw(backup("v", server, version="@RAW@"), "9" * 5000),
            "malformed: a number longer than 40 characters",
        ),
        "number": (
            with_raw(backup("n", server, vault=huge_number), "7" * 5000),
            "malformed: a number longer than 40 characters",
        ),
        "header": (b'{"kind": "backup", ', "malformed: not JSON"),  # sent with a 131,000-byte header
        "huge": (b" " * 10_000_000, "too large: 10000000 bytes"),
        "naive": (
            json.dumps(backup("nv", server, admission={"start_by": "2030-01-01T00:00:00"})).encode(),
            "invalid: backup.admission.start_by: Input should have timezone info",
        ),
        "reply_to": (
            json.dumps(backup("rt", server, reply_to="é" * 200)).encode(),
            "invalid: backup.reply_to: Value error, at most 255 UTF-8 bytes",
        ),
    }


async def test_bad_messages_are_dead_lettered_at_first_delivery_and_the_worker_stays_up(
    worker_settings: Settings,
    store: Store,
    connection: AbstractRobustConnection,
    events_queue: AbstractQueue,
) -> None:
    first, second = servers(2)
    bad = bad_messages(first)
    messages = [
        aio_pika.Message(
            body,
            message_id=name,
            headers={"big": "y" * 131_000} if name == "header" else {"trace": name},
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        for name, (body, _) in bad.items()
    ]
    good = [
        aio_pika.Message(json.dumps(backup(f"good-{i}", s)).encode()) for i, s in enumerate((first, second))
    ]
    closes: list[str] = []
    async with running_worker(worker_settings, closes) as parts:
        commands = worker_settings.names.commands_queue
        await publish(connection, commands, [good[0], *messages, good[1]])
        await publish(connection, commands, [good[0]])  # a duplicate: acked, no dead letter

        dead = {str(m.message_id): m for m in await drain(parts.topology.dead_letters, len(bad), seconds=30)}

        async def both_succeeded() -> bool:
            workflows = [await store.workflow_by_command(f"good-{i}") for i in range(2)]
            return all(wf is not None and wf.status is WorkflowStatus.SUCCEEDED for wf in workflows)

        await wait_for(both_succeeded, seconds=30)
        finals = [json.loads(m.body) for m in await drain(events_queue, 2, seconds=10)]
        assert await drain(parts.topology.dead_letters, 1, seconds=0.3) == []  # the duplicate is not there
        assert closes == []  # neither connection was ever closed
        assert not parts.connection.is_closed and not parts.relay_connection.is_closed

    assert sorted(dead) == sorted(bad)
    for name, (body, reason) in bad.items():
        headers = dead[name].headers
        assert str(headers[REASON_HEADER]).startswith(reason), (name, headers[REASON_HEADER])
        # delivered once: the quorum queue counts earlier deliveries, and the broker's own dead-lettering
        # (after the delivery limit) would name its reason
        assert headers.get("x-delivery-count", 0) == 0 and "x-first-death-reason" not in headers, name
        assert dead[name].body == body
    assert dead["header"].headers[DROPPED_HEADERS_HEADER] == 1 and "big" not in dead["header"].headers
    assert dead["deep"].headers["trace"] == "deep"  # small original headers are kept
    assert sorted(e["data"]["command_id"] for e in finals) == ["good-0", "good-1"]
    assert {e["data"]["outcome"] for e in finals} == {"succeeded"}
    assert len(await store.list_workflows()) == 2
