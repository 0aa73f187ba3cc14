"""``GET /v1/events``: the workflows' events as Server-Sent Events, resumable with ``Last-Event-ID``.

An event's SSE id is its position in the stream (``store.events``), not its outbox id: positions are given
in the order rows become visible, so "after N" misses nothing. Each API process runs a sequencer (woken by
the outbox's NOTIFY, and polling as a fallback) that numbers new rows and then wakes the streams it
serves; several processes may run theirs at once (they take turns on an advisory lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator.api.context import CONTEXT, context_of
from orchestrator.api.keys import Grant
from orchestrator.api.problems import Problem, ProblemError
from orchestrator.api.sessions import COOKIE, session_grant
from orchestrator.api.spec import Endpoint
from orchestrator.store import OUTBOX_CHANNEL, Store
from orchestrator.store.event_stream import EventFilter, StreamEvent

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0
POLL_SECONDS = 1.0  # the sequencer's pace when no NOTIFY comes
RETRY_MILLISECONDS = 2000  # how soon a disconnected EventSource comes back
PAGE = 500

STREAM_POSITION = re.compile(r"[0-9]{1,19}")


class EventsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["backup", "restore", "replicate", "fleet_backup", "restore_drill"] | None = None
    project: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$")
    workflow: uuid.UUID | None = None


class EventFeed:
    """This process's sequencer, and the signal that wakes its streams when positions were given."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._changed = asyncio.Event()
        self.closed = False

    def change(self) -> asyncio.Event:
        """Set at the next change (take it before reading, so that no change falls in between)."""
        return self._changed

    async def run(self) -> None:
        listener = self._store.listen(OUTBOX_CHANNEL)
        try:
            notified = True
            while True:
                notified = await self._pass(notified)
                notified = await listener.wait(POLL_SECONDS) or notified
        finally:
            await listener.close()

    async def _pass(self, notified: bool) -> bool:
        """Number what is new and wake the streams; True when it must be tried again at once."""
        try:
            numbered = await self._store.events.sequence()
        except Exception as exc:  # the database is away: the streams wait, the rows keep
            log.warning("event sequencer failed (%s); trying again", type(exc).__name__)
            return True
        if numbered or notified:  # another process may have numbered what the NOTIFY announced
            self._wake()
        return False

    def close(self) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        woken, self._changed = self._changed, asyncio.Event()
        woken.set()


FEED = web.AppKey("event_feed", EventFeed)


async def event_feed(app: web.Application) -> AsyncIterator[None]:
    """The feed's life with the app's (``cleanup_ctx``); its streams end at shutdown, before cleanup."""
    feed = app[FEED] = EventFeed(app[CONTEXT].store)
    task = asyncio.create_task(feed.run(), name="event-sequencer")
    yield
    feed.close()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def close_streams(app: web.Application) -> None:
    if FEED in app:
        app[FEED].close()


def install(app: web.Application) -> None:
    app.cleanup_ctx.append(event_feed)
    app.on_shutdown.append(close_streams)


async def stream_events(request: web.Request) -> web.StreamResponse:
    grant = await _grant(request)
    query = _query(request)
    store, feed = context_of(request).store, request.app[FEED]
    cursor = _last_event_id(request)
    if cursor is None:
        cursor = await store.events.latest()
    only = EventFilter(grant.projects or None, query.kind, query.project, query.workflow)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):
        await response.write(f"retry: {RETRY_MILLISECONDS}\n\n".encode())
        while not feed.closed:
            change = feed.change()
            page = await store.events.after(cursor, only, PAGE)
            if page.events:
                await response.write(b"".join(_frame(e) for e in page.events))
            cursor = page.cursor
            if len(page.events) < PAGE and not await _woken(change, HEARTBEAT_SECONDS):
                if not await _still_granted(request):  # revoked key, ended session: the stream ends
                    break
                await response.write(b": heartbeat\n\n")
        await response.write_eof()
    return response


async def _still_granted(request: web.Request) -> bool:
    try:
        await _grant(request)
    except ProblemError:
        return False
    return True


async def _grant(request: web.Request) -> Grant:
    keys = context_of(request).keys
    if "Authorization" in request.headers or COOKIE not in request.cookies:
        return await keys.grant(request, "read")
    return await session_grant(request, keys)


def _query(request: web.Request) -> EventsQuery:
    try:
        return EventsQuery.model_validate(dict(request.query))
    except ValidationError as exc:
        where = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
        raise ProblemError(422, "Unprocessable Content", f"invalid query parameters: {where}") from None


def _last_event_id(request: web.Request) -> int | None:
    given = request.headers.get("Last-Event-ID", "").strip()
    if not given:
        return None
    if not STREAM_POSITION.fullmatch(given):  # ASCII digits only: str.isdigit() takes "²" too
        raise ProblemError(400, "Bad Request", "Last-Event-ID is not an id this stream sent")
    return int(given)


async def _woken(change: asyncio.Event, seconds: float) -> bool:
    try:
        async with asyncio.timeout(seconds):
            await change.wait()
    except TimeoutError:
        return False
    return True


def _frame(event: StreamEvent) -> bytes:
    name = "progress" if event.body.get("type", "").endswith(".progress") else "final"
    data = json.dumps(event.body, separators=(",", ":"))
    return f"id: {event.seq}\nevent: {name}\ndata: {data}\n\n".encode()


ENDPOINTS = [
    Endpoint(
        "GET",
        "/v1/events",
        "streamEvents",
        "Workflow events as Server-Sent Events (id: stream position; resume with Last-Event-ID).",
        stream_events,
        scope="read",
        query=EventsQuery,
        headers={"Last-Event-ID": rf"^\s*({STREAM_POSITION.pattern})?\s*$"},  # empty: from the start
        responses={200: "text/event-stream", 400: Problem, 401: Problem, 403: Problem, 422: Problem},
    ),
]
