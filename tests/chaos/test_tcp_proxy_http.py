"""The TCP proxy itself, mode by mode, in front of a small aiohttp server (and a raw socket client where
the bytes on the wire are the point)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from tcp_proxy import (
    Blackhole,
    CutAfter,
    Delay,
    HttpErrorAfterForward,
    Pass,
    ProxyFactory,
    Reset,
    Stall,
    TcpProxy,
)

BIG = 200_000


@dataclass
class Upstream:
    """What the little server was asked: one entry per request that reached a handler, with its body."""

    url: str
    bodies: list[bytes] = field(default_factory=list)


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    app = web.Application(client_max_size=4 * BIG)
    runner = web.AppRunner(app)
    seen = Upstream("")

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        seen.bodies.append(body)
        return web.json_response({"received": len(body)})

    async def big(request: web.Request) -> web.Response:
        seen.bodies.append(b"")
        return web.Response(body=b"x" * BIG)

    app.router.add_post("/echo", echo)
    app.router.add_get("/big", big)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    seen.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield seen
    await runner.cleanup()


@pytest.fixture
async def proxy(tcp_proxy: ProxyFactory, upstream: Upstream) -> TcpProxy:
    return await tcp_proxy(upstream.url)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as client:
        yield client


async def post(session: aiohttp.ClientSession, proxy: TcpProxy, body: bytes = b"ping") -> tuple[int, bytes]:
    async with session.post(f"http://{proxy.host}:{proxy.port}/echo", data=body) as answer:
        return answer.status, await answer.read()


async def raw_exchange(proxy: TcpProxy, request: bytes) -> bytes:
    """Send ``request`` on a fresh connection and read until the proxy closes it (FIN)."""
    reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
        await writer.wait_closed()


def get_request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: upstream\r\nConnection: close\r\n\r\n".encode()


async def test_pass_forwards_both_ways_and_counts(
    proxy: TcpProxy, upstream: Upstream, session: aiohttp.ClientSession
) -> None:
    assert await post(session, proxy, b"hello") == (200, b'{"received": 5}')
    assert upstream.bodies == [b"hello"]
    counters = proxy.counters
    assert counters.connections == 1
    assert counters.bytes_up > 5 and counters.bytes_down > 15
    assert counters.bytes_dropped == 0 and counters.by_mode["pass"] >= 2


async def test_delay_holds_every_chunk(proxy: TcpProxy, session: aiohttp.ClientSession) -> None:
    proxy.set(Delay(0.3))
    started = time.monotonic()
    assert (await post(session, proxy))[0] == 200
    assert time.monotonic() - started >= 0.6  # the request, then the answer
    assert proxy.counters.by_mode["delay"] >= 2


async def test_delay_at_connect_holds_the_connection_once(
    proxy: TcpProxy, session: aiohttp.ClientSession
) -> None:
    proxy.set(Delay(0.4, at_connect=True))
    started = time.monotonic()
    assert (await post(session, proxy))[0] == 200
    assert time.monotonic() - started >= 0.4
    assert proxy.counters.by_mode["delay"] == 1


async def test_blackhole_swallows_a_new_connection(proxy: TcpProxy, upstream: Upstream) -> None:
    proxy.set(Blackhole())
    reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
    writer.write(get_request("/big"))
    await writer.drain()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(1), 0.5)
    writer.close()
    await writer.wait_closed()
    assert upstream.bodies == []
    assert proxy.counters.bytes_dropped == len(get_request("/big"))
    assert proxy.counters.bytes_up == 0


async def test_blackhole_on_an_open_keep_alive_connection(
    proxy: TcpProxy, upstream: Upstream, session: aiohttp.ClientSession
) -> None:
    assert (await post(session, proxy))[0] == 200
    proxy.set(Blackhole())
    with pytest.raises(TimeoutError):
        async with session.post(
            f"http://{proxy.host}:{proxy.port}/echo", data=b"lost", timeout=aiohttp.ClientTimeout(total=0.5)
        ):
            pass
    assert upstream.bodies == [b"ping"]
    assert proxy.counters.connections == 1


async def test_stall_holds_the_bytes_of_open_and_new_connections_until_it_ends(
    proxy: TcpProxy, upstream: Upstream, session: aiohttp.ClientSession
) -> None:
    assert (await post(session, proxy))[0] == 200
    proxy.set(Stall())
    held = asyncio.create_task(post(session, proxy, b"held"))  # on the open keep-alive connection
    fresh = asyncio.create_task(raw_exchange(proxy, get_request("/big")))  # a new connection
    await asyncio.sleep(0.5)
    assert not held.done() and not fresh.done()
    assert upstream.bodies == [b"ping"]  # nothing passed while it lasted
    proxy.set(Pass())
    assert await asyncio.wait_for(held, 5) == (200, b'{"received": 4}')  # nothing was lost either
    assert (await asyncio.wait_for(fresh, 5)).endswith(b"x" * 1000)
    assert proxy.counters.bytes_dropped == 0 and proxy.counters.by_mode["stall"] >= 2


async def test_reset_on_connect_is_a_tcp_rst(proxy: TcpProxy, upstream: Upstream) -> None:
    proxy.set(Reset())
    reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
    try:
        # nothing sent: a plain close would be a FIN (b"" here); only SO_LINGER 0 makes it a RST
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionResetError):
            await writer.wait_closed()
    assert upstream.bodies == []
    assert proxy.counters.by_mode["reset"] == 1


async def test_reset_after_some_bytes_of_the_request(
    proxy: TcpProxy, upstream: Upstream, session: aiohttp.ClientSession
) -> None:
    proxy.set(Reset(after_bytes=1000))
    with pytest.raises(aiohttp.ClientOSError):
        await post(session, proxy, b"y" * BIG)
    assert proxy.counters.bytes_up == 1000
    await asyncio.sleep(0.2)
    assert upstream.bodies == []  # the server never got a whole request


async def test_reset_on_an_open_keep_alive_connection(
    proxy: TcpProxy, upstream: Upstream, session: aiohttp.ClientSession
) -> None:
    assert (await post(session, proxy))[0] == 200
    proxy.set(Reset())
    with pytest.raises(aiohttp.ClientError):
        await post(session, proxy, b"never")
    assert upstream.bodies == [b"ping"]
    assert proxy.counters.connections == 1
    assert proxy.counters.by_mode["reset"] == 1


async def test_cut_after_forwards_exactly_that_much_of_the_answer_then_closes(
    proxy: TcpProxy, upstream: Upstream
) -> None:
    proxy.set(CutAfter(100))
    received = await raw_exchange(proxy, get_request("/big"))
    assert len(received) == 100 and received.startswith(b"HTTP/1.1 200 OK\r\n")
    assert upstream.bodies == [b""]  # the request went through whole
    assert proxy.counters.bytes_down == 100
    assert proxy.counters.by_mode["cut_after"] == 1


async def test_cut_after_on_an_open_connection_counts_from_the_switch(
    proxy: TcpProxy, session: aiohttp.ClientSession
) -> None:
    assert (await post(session, proxy))[0] == 200
    before = proxy.counters.bytes_down
    proxy.set(CutAfter(10))
    with pytest.raises(aiohttp.ClientError):
        await post(session, proxy)
    assert proxy.counters.bytes_down == before + 10
    assert proxy.counters.connections == 1


async def test_http_error_after_forward_executes_then_answers_the_error(
    proxy: TcpProxy, upstream: Upstream, session: aiohttp.ClientSession
) -> None:
    proxy.set(HttpErrorAfterForward())
    url = f"http://{proxy.host}:{proxy.port}/echo"
    async with session.post(url, data=b"z" * BIG) as answer:
        assert answer.status == 504
        assert answer.headers["Connection"] == "close"
        body = json.loads(await answer.read())
    request_id = answer.headers["X-Request-Id"]
    assert body == {"error_code": "APIG.0201", "error_msg": "Backend timeout.", "request_id": request_id}
    assert upstream.bodies == [b"z" * BIG]  # the service executed the whole request
    assert proxy.counters.bytes_dropped > 0  # its answer was read and thrown away
    assert proxy.counters.by_mode["http_error_after_forward"] == 1


async def test_http_error_after_forward_on_an_open_keep_alive_connection(
    proxy: TcpProxy, upstream: Upstream, session: aiohttp.ClientSession
) -> None:
    assert (await post(session, proxy, b"first"))[0] == 200
    proxy.set(HttpErrorAfterForward(status=502, error_code="APIG.0202", error_msg="Backend unavailable."))
    status, body = await post(session, proxy, b"second")
    assert status == 502 and json.loads(body)["error_code"] == "APIG.0202"
    assert proxy.counters.connections == 1  # the same connection carried both
    proxy.set(Pass())
    assert await post(session, proxy, b"third") == (200, b'{"received": 5}')
    assert upstream.bodies == [b"first", b"second", b"third"]
    assert proxy.counters.connections == 2  # the error closed the first one


async def test_rewrite_keeps_user_and_password() -> None:
    async with await TcpProxy.start("127.0.0.1", 5432) as proxy:
        url = proxy.rewrite("postgresql://user:secret@db.example:5432/name?sslmode=disable")
        assert url == f"postgresql://user:secret@127.0.0.1:{proxy.port}/name?sslmode=disable"
