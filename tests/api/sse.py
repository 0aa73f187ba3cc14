"""Reading Server-Sent Events in tests: frames of an aiohttp response, and outbox rows to stream."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiohttp import ClientResponse

from orchestrator.store import NewWorkflow, Store


@dataclass(frozen=True)
class Frame:
    id: str | None
    event: str | None
    data: Any  # the JSON of data; None for a comment
    comment: str | None = None


async def next_frame(response: ClientResponse, seconds: float = 5.0) -> Frame:
    """The next event or comment of the stream (``retry:`` lines skipped)."""
    fields: dict[str, str] = {}
    async with asyncio.timeout(seconds):
        while True:
            line = (await response.content.readline()).decode()
            if line == "":
                raise EOFError("the stream ended")
            line = line.rstrip("\n")
            if line.startswith(":") and not fields:
                await response.content.readline()  # the blank line ending it
                return Frame(None, None, None, line[1:].strip())
            if line:
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
            elif "data" in fields:
                return Frame(fields.get("id"), fields.get("event"), json.loads(fields["data"]))
            else:
                fields = {}


async def frames(response: ClientResponse, n: int, seconds: float = 5.0) -> list[Frame]:
    """The next ``n`` events (comments skipped)."""
    found: list[Frame] = []
    while len(found) < n:
        frame = await next_frame(response, seconds)
        if frame.comment is None:
            found.append(frame)
    return found


async def new_workflow(store: Store, project: str = "p-a", kind: str = "backup") -> uuid.UUID:
    wf = NewWorkflow(uuid.uuid4(), f"cmd-{uuid.uuid4().hex[:8]}", kind, project, "r1", {"n": 1})
    await store.create_workflows_if_absent([wf])
    return wf.id


async def insert_event(conn: asyncpg.Connection, workflow_id: uuid.UUID, name: str) -> None:
    """An outbox row as the engine writes one (progress when ``name`` starts with ``progress``)."""
    outcome = "progress" if name.startswith("progress") else "succeeded"
    body = {"id": f"{workflow_id}-{name}", "type": f"io.cbr-orchestrator.workflow.{outcome}", "name": name}
    await conn.execute(
        "INSERT INTO outbox (event_id, workflow_id, routing_key, body) VALUES ($1, $2, $3, $4::jsonb)",
        body["id"],
        workflow_id,
        f"workflow.backup.{outcome}",
        json.dumps(body),
    )
