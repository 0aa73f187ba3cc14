"""Callbacks: the final event of a workflow POSTed to the URL its command named, signed the Standard
Webhooks way (``webhook-id`` is the event id, so a receiver drops a repeat).

It runs in the worker beside the relay: the outbox is the worker's to deliver, and a command from the
queue may name a callback as well as one from the API (which may not run at all). The rows are durable
(sql/010_callbacks.sql); a failed attempt is tried again after an exponential backoff with jitter, until
the receiver answers 2xx or the budget (``api.callback_expire_seconds``) is spent. Only hosts on the
allow-list are called, checked again before each request (the list may have shrunk since the command was
accepted), only at public addresses (:mod:`orchestrator.broker.callback_addresses`), and redirects are
not followed: a receiver cannot send the request anywhere else.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime

import aiohttp
from standardwebhooks import Webhook

from orchestrator.broker.callback_addresses import InternalAddressOnly, PublicAddressResolver
from orchestrator.config import ApiSettings
from orchestrator.messages import callback_host
from orchestrator.observability import tracing
from orchestrator.store import OUTBOX_CHANNEL, Store
from orchestrator.store.callbacks import DueCallback

log = logging.getLogger(__name__)

LEASE_MARGIN_SECONDS = 5.0


def backoff_seconds(attempts: int, settings: ApiSettings, jitter: float) -> float:
    """The wait after the ``attempts``-th failure: doubling from the first wait up to the cap, of which a
    random half (``jitter`` in [0, 1)) is left out so that receivers back from an outage are not hit all
    at once."""
    doubled: float = settings.callback_backoff_seconds * 2.0 ** (attempts - 1)
    full = min(settings.callback_backoff_max_seconds, doubled)
    return full * (0.5 + jitter / 2)


class CallbackDeliverer:
    def __init__(
        self,
        store: Store,
        settings: ApiSettings,
        poll_seconds: float = 2.0,
        batch_size: int = 32,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if settings.callback_secret is None:
            raise ValueError("callbacks need api.callback_secret")
        self._store = store
        self._settings = settings
        self._signer = Webhook(settings.callback_secret.get_secret_value())
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._jitter = jitter
        self._listener = store.listen(OUTBOX_CHANNEL)

    async def run(self, stop: asyncio.Event) -> None:
        timeout = aiohttp.ClientTimeout(total=self._settings.callback_timeout_seconds)
        try:
            async with aiohttp.ClientSession(
                timeout=timeout, trust_env=False, connector=self._connector()
            ) as session:
                while not stop.is_set():
                    try:
                        delivered = await self.deliver_due(session)
                    except Exception as exc:  # the database away: the rows wait
                        log.warning("callbacks: cannot deliver now (%s); retrying", type(exc).__name__)
                        delivered = 0
                    if delivered < self._batch_size:
                        await self._listener.wait(self._poll_seconds)
        finally:
            await self._listener.close()

    def _connector(self) -> aiohttp.TCPConnector:
        if self._settings.callback_private_networks:
            return aiohttp.TCPConnector()
        return aiohttp.TCPConnector(resolver=PublicAddressResolver())

    async def deliver_due(self, session: aiohttp.ClientSession) -> int:
        """Try every due callback once; how many were tried."""
        lease = self._settings.callback_timeout_seconds + LEASE_MARGIN_SECONDS
        due = await self._store.callbacks.claim(self._batch_size, lease)
        await asyncio.gather(*(self._deliver(session, callback) for callback in due))
        return len(due)

    async def _deliver(self, session: aiohttp.ClientSession, callback: DueCallback) -> None:
        host = callback_host(callback.url)
        if not self._settings.allows_callback(host):
            log.warning("callback of event %s not sent: %s is not on the allow-list", callback.event_id, host)
            await self._store.callbacks.give_up(callback.id, f"host {host} is not on the allow-list")
            return
        with tracing.continued(callback.traceparent):  # the receiver continues the command's trace
            error = await self._post(session, callback)
        if error is None:
            log.info("callback of event %s delivered (attempt %d)", callback.event_id, callback.attempts)
            await self._store.callbacks.delivered(callback.id)
            return
        await self._failed(callback, error)

    async def _failed(self, callback: DueCallback, error: str) -> None:
        wait = backoff_seconds(callback.attempts, self._settings, self._jitter())
        age = (datetime.now(UTC) - callback.created_at).total_seconds()
        if age + wait > self._settings.callback_expire_seconds:
            log.warning(
                "callback of event %s expired after %d attempts: %s",
                callback.event_id,
                callback.attempts,
                error,
            )
            await self._store.callbacks.give_up(
                callback.id, f"expired after {callback.attempts} attempts: {error}"
            )
            return
        log.info("callback of event %s failed (%s); again in %.1fs", callback.event_id, error, wait)
        await self._store.callbacks.failed(callback.id, error, wait)

    async def _post(self, session: aiohttp.ClientSession, callback: DueCallback) -> str | None:
        """None when the receiver took it (2xx), else why not (never the URL's query or a secret)."""
        body = json.dumps(callback.body, separators=(",", ":"))
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": callback.event_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self._signer.sign(callback.event_id, now, body),
        }
        try:
            async with session.post(
                callback.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                if 200 <= response.status < 300:
                    return None
                return f"HTTP {response.status}"
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, InternalAddressOnly):
                return "not delivered: the host resolves only to internal addresses"
            return f"not delivered ({type(exc).__name__})"
        except Exception as exc:
            return f"not delivered ({type(exc).__name__})"
