"""LISTEN/NOTIFY wake-ups: a waiter that is woken by a notification or, failing that, by a timeout."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg

log = logging.getLogger(__name__)


async def woken_within(woken: asyncio.Event, max_wait: float) -> bool:
    """True (and the event cleared) when ``woken`` is set within ``max_wait`` seconds; False otherwise."""
    try:
        async with asyncio.timeout(max_wait):
            await woken.wait()
    except TimeoutError:
        return False
    woken.clear()
    return True


class Listener:
    """Holds one connection LISTENing on ``channel``; reconnects lazily when it is lost.

    Polling is the fallback: :meth:`wait` always returns after ``max_wait`` even without a notification.
    """

    def __init__(self, dsn: str, channel: str) -> None:
        self._dsn = dsn
        self._channel = channel
        self._conn: asyncpg.Connection | None = None
        self._woken = asyncio.Event()

    async def wait(self, max_wait: float) -> bool:
        """Wait for a notification; True if one came, False on timeout."""
        await self._ensure_connected()
        return await woken_within(self._woken, max_wait)

    def wake(self) -> None:
        self._woken.set()

    async def close(self) -> None:
        if self._conn is not None and not self._conn.is_closed():
            with contextlib.suppress(Exception):
                await self._conn.close(timeout=2)
        self._conn = None

    async def _ensure_connected(self) -> None:
        if self._conn is not None and not self._conn.is_closed():
            return
        try:
            conn = await _connect_unless_cancelled(self._dsn)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            log.warning("listener on %s not connected (%s); polling only", self._channel, type(exc).__name__)
            self._conn = None
            return
        try:
            await conn.add_listener(self._channel, self._on_notify)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            log.warning("listener on %s not subscribed (%s); polling only", self._channel, type(exc).__name__)
            conn.terminate()
            self._conn = None
            return
        self._conn = conn
        self._woken.set()  # we may have missed notifications while disconnected

    def _on_notify(self, *_: Any) -> None:
        self._woken.set()


async def _connect_unless_cancelled(dsn: str) -> asyncpg.Connection:
    """Connect; when cancelled meanwhile (a stopping worker), close the connection once it exists.

    Without this, a connection that completes after its caller was cancelled is never closed.
    """
    connecting = asyncio.ensure_future(asyncpg.connect(dsn, timeout=5))
    try:
        conn: asyncpg.Connection = await asyncio.shield(connecting)
    except asyncio.CancelledError:
        connecting.add_done_callback(_terminate_if_connected)
        raise
    return conn


def _terminate_if_connected(connecting: asyncio.Future[asyncpg.Connection]) -> None:
    if not connecting.cancelled() and connecting.exception() is None:
        connecting.result().terminate()
