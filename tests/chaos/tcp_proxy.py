"""A TCP proxy for chaos tests: it sits between a client and any upstream (PostgreSQL, RabbitMQ, the
CBR endpoint), and what it does is switched at run time.

    proxy = await TcpProxy.start("127.0.0.1", 5432)        # listens on a free port of 127.0.0.1
    dsn = proxy.rewrite("postgresql://postgres@127.0.0.1:5432/db")   # the same URL, via the proxy
    proxy.set(Delay(0.5))       # or Pass(), Blackhole(), Reset(after_bytes=0), CutAfter(100),
                                # HttpErrorAfterForward(status=504, ...): see proxy_modes.py
    proxy.counters.connections, proxy.counters.bytes_down, proxy.counters.by_mode["delay"]
    await proxy.close()         # or ``async with``; the ``tcp_proxy`` fixture closes its proxies

A failure inside the proxy that is not a connection going away is kept in ``proxy.errors``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit, urlunsplit

from http_wire import CHUNK, error_response, read_request, starts_a_request
from proxy_modes import (
    Behaviour,
    Blackhole,
    CutAfter,
    Delay,
    HttpErrorAfterForward,
    Pass,
    ProxyCounters,
    Reset,
    Stall,
)

__all__ = [
    "Behaviour",
    "Blackhole",
    "CutAfter",
    "Delay",
    "HttpErrorAfterForward",
    "Pass",
    "ProxyCounters",
    "ProxyFactory",
    "Reset",
    "Stall",
    "TcpProxy",
    "upstream_of",
]

DEFAULT_PORTS = {"postgresql": 5432, "postgres": 5432, "amqp": 5672, "amqps": 5671, "http": 80, "https": 443}


class TcpProxy:
    """Listens on ``host``:``port`` and forwards to ``upstream`` as ``behaviour`` says (see the module)."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.behaviour: Behaviour = Pass()
        self.generation = 0  # bumped by every ``set``: open connections restart their byte counts
        self.changed = asyncio.Event()  # set (and replaced) by every ``set``: stalled links look again
        self.counters = ProxyCounters()
        self.errors: list[str] = []
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.Task[None]] = set()

    @classmethod
    async def start(cls, upstream_host: str, upstream_port: int, listen_host: str = "127.0.0.1") -> TcpProxy:
        proxy = cls(upstream_host, upstream_port)
        proxy._server = await asyncio.start_server(proxy._accept, listen_host, 0)
        return proxy

    @property
    def host(self) -> str:
        assert self._server is not None
        return str(self._server.sockets[0].getsockname()[0])

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def set(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.generation += 1
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()

    def rewrite(self, url: str) -> str:
        """``url`` with its host and port replaced by the proxy's (user and password kept)."""
        parts = urlsplit(url)
        userinfo, at, _ = parts.netloc.rpartition("@")
        return urlunsplit(parts._replace(netloc=f"{userinfo}{at}{self.host}:{self.port}"))

    async def close(self) -> None:
        """Stop listening and abort every open connection. Safe to call twice."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.close()
        for task in self._links:
            task.cancel()
        await asyncio.gather(*self._links, return_exceptions=True)
        await server.wait_closed()

    async def __aenter__(self) -> TcpProxy:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # the link runs in a task of its own: ``close`` cancels it, never this callback's task (on
        # Python 3.11 a cancelled callback task makes asyncio's streams log a spurious error)
        link = asyncio.create_task(_Link(self, reader, writer).run())
        self._links.add(link)
        self.counters.connections += 1
        self.counters.open_connections += 1
        try:
            await asyncio.wait({link})
        finally:
            self.counters.open_connections -= 1
            self._links.discard(link)


def upstream_of(url: str) -> tuple[str, int]:
    """The host and port a URL points at (the scheme's usual port when it names none)."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or DEFAULT_PORTS[parts.scheme]


class _Link:
    """One client connection and its upstream connection."""

    def __init__(self, proxy: TcpProxy, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.proxy, self.counters = proxy, proxy.counters
        self.client_reader, self.client_writer = reader, writer
        self.upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None  # once connected
        self.generation = proxy.generation
        self.carried = 0  # bytes both ways since the current behaviour took effect here
        self.answered = 0  # upstream bytes since then
        self.swallowing = False  # an HTTP answer is being thrown away
        self.answer_read = asyncio.Event()

    def behaviour(self) -> Behaviour:
        if self.generation != self.proxy.generation:
            self.generation, self.carried, self.answered = self.proxy.generation, 0, 0
        return self.proxy.behaviour

    async def run(self) -> None:
        try:
            if await self._open():
                await self._relay()
        except OSError:
            pass  # a side went away: the link just ends
        except Exception as exc:
            self.proxy.errors.append(repr(exc))
        finally:
            await self._close_all()

    async def _open(self) -> bool:
        """Connect upstream as the behaviour says; False when the client has been dealt with already."""
        behaviour = self.behaviour()
        if isinstance(behaviour, Reset) and behaviour.after_bytes == 0:
            self.counters.by_mode[behaviour.name] += 1
            _reset(self.client_writer)
            return False
        if isinstance(behaviour, Blackhole):
            self.counters.by_mode[behaviour.name] += 1
            while data := await self.client_reader.read(CHUNK):
                self.counters.bytes_dropped += len(data)
            return False
        if isinstance(behaviour, Stall):
            await self._stalled(behaviour)
            return await self._open()
        if isinstance(behaviour, Delay) and behaviour.at_connect:
            self.counters.by_mode[behaviour.name] += 1
            await asyncio.sleep(behaviour.seconds)
        self.upstream = await asyncio.open_connection(*self.proxy.upstream)
        return True

    async def _stalled(self, stall: Stall) -> Behaviour:
        """Hold on while the proxy stalls; the behaviour set after it."""
        self.counters.by_mode[stall.name] += 1
        while isinstance(behaviour := self.behaviour(), Stall):
            await self.proxy.changed.wait()
        return behaviour

    async def _relay(self) -> None:
        up = asyncio.create_task(self._pump_up())
        down = asyncio.create_task(self._pump_down())
        try:
            done, _ = await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
            if down in done and self.swallowing:
                await up  # the upstream ended its thrown-away answer: the client still gets the error
        finally:
            for task in (up, down):
                task.cancel()
            for outcome in await asyncio.gather(up, down, return_exceptions=True):
                if isinstance(outcome, Exception) and not isinstance(outcome, OSError):
                    self.proxy.errors.append(repr(outcome))

    async def _pump_up(self) -> None:
        assert self.upstream is not None
        while data := await self.client_reader.read(CHUNK):
            behaviour = self.behaviour()
            if isinstance(behaviour, HttpErrorAfterForward) and starts_a_request(data):
                await self._answer_error(behaviour, data)
                return
            if not await self._forward(behaviour, data, self.upstream[1], upward=True):
                return

    async def _pump_down(self) -> None:
        assert self.upstream is not None
        while data := await self.upstream[0].read(CHUNK):
            if self.swallowing:
                self.counters.bytes_dropped += len(data)
            elif not await self._forward(self.behaviour(), data, self.client_writer, upward=False):
                return
        self.answer_read.set()

    async def _forward(
        self, behaviour: Behaviour, data: bytes, writer: asyncio.StreamWriter, *, upward: bool
    ) -> bool:
        """Pass one chunk on as ``behaviour`` says; False once the link has ended."""
        if isinstance(behaviour, Stall):
            behaviour = await self._stalled(behaviour)
        if isinstance(behaviour, Blackhole):
            self.counters.by_mode[behaviour.name] += 1
            self.counters.bytes_dropped += len(data)
            return True
        if isinstance(behaviour, Delay) and not behaviour.at_connect:
            self.counters.by_mode[behaviour.name] += 1
            await asyncio.sleep(behaviour.seconds)
        if isinstance(behaviour, Pass):
            self.counters.by_mode[behaviour.name] += 1
        limit = self._limit(behaviour, upward)
        if limit is None or len(data) < limit:
            await self._write(writer, data, upward)
            return True
        await self._write(writer, data[:limit], upward)
        self.counters.by_mode[behaviour.name] += 1
        if isinstance(behaviour, Reset):
            _reset(self.client_writer)
            _reset(self._upstream_writer())
        return False  # a cut: _close_all ends both sides with a FIN

    def _limit(self, behaviour: Behaviour, upward: bool) -> int | None:
        """How many more bytes may pass before the behaviour ends the link (None: no end)."""
        if isinstance(behaviour, Reset):
            return max(0, behaviour.after_bytes - self.carried)
        if isinstance(behaviour, CutAfter) and not upward:
            return max(0, behaviour.after_bytes - self.answered)
        return None

    async def _write(self, writer: asyncio.StreamWriter, data: bytes, upward: bool) -> None:
        if data:
            writer.write(data)
            await writer.drain()
        self.carried += len(data)
        if upward:
            self.counters.bytes_up += len(data)
        else:
            self.answered += len(data)
            self.counters.bytes_down += len(data)

    async def _answer_error(self, behaviour: HttpErrorAfterForward, first: bytes) -> None:
        request = await read_request(self.client_reader, first)
        self.swallowing = True
        await self._write(self._upstream_writer(), request, upward=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.answer_read.wait(), behaviour.response_timeout)
        self.client_writer.write(error_response(behaviour))
        await self.client_writer.drain()
        self.counters.by_mode[behaviour.name] += 1

    def _upstream_writer(self) -> asyncio.StreamWriter:
        assert self.upstream is not None
        return self.upstream[1]

    async def _close_all(self) -> None:
        writers = [self.client_writer, *([self.upstream[1]] if self.upstream else [])]
        for writer in writers:
            writer.close()
        for writer in writers:
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Abort the connection with a TCP RST instead of a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


# the ``tcp_proxy`` fixture: ``await tcp_proxy("postgresql://…")`` or ``await tcp_proxy((host, port))``
ProxyFactory = Callable[[str | tuple[str, int]], Awaitable[TcpProxy]]
