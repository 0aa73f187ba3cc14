"""Helpers for broker tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import aio_pika

PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
REGION = "eu-west-101"


async def drain(
    queue: aio_pika.abc.AbstractQueue, want: int, seconds: float = 10
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Get messages until ``want`` arrived or ``seconds`` passed."""
    got: list[aio_pika.abc.AbstractIncomingMessage] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while len(got) < want and loop.time() < end:
        msg = await queue.get(no_ack=True, fail=False)
        if msg is None:
            await asyncio.sleep(0.05)
        else:
            got.append(msg)
    return got


def backup_body(command_id: str, **over: object) -> bytes:
    body: dict[str, object] = {
        "kind": "backup",
        "command_id": command_id,
        "project_id": PROJECT,
        "region": REGION,
        "vault": {"id": "vault-1"},
        "resources": [{"id": "srv-1"}],
    }
    body.update(over)
    return json.dumps(body).encode()


async def wait_for(predicate: Callable[[], Awaitable[bool]], seconds: float = 10) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while not await predicate():
        assert loop.time() < end, "condition not met in time"
        await asyncio.sleep(0.05)
