"""The API's throughput: backup commands accepted per second by one API process, each with its own
Idempotency-Key, sent over HTTP by ``clients`` concurrent callers for ``seconds``.

The server is ``cbr-orchestrator api`` in a process of its own, as users run it; the callers run in this
one, so that their work is not counted against the server's core. ``python -m
orchestrator.bench.api_throughput [seconds] [clients]`` (or ``cbr-orchestrator bench --scenario api``)
runs it on a temporary database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import aiohttp

from orchestrator.api.keys import new_key
from orchestrator.store import Store, run_migrations
from orchestrator.store.api_keys import NewApiKey
from orchestrator.store.database import temporary_database

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
PROJECT, REGION = "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "eu-west-101"
CREDENTIALS = {"project_id": PROJECT, "region": REGION, "access_key": "bench", "secret_key": "bench"}


@dataclass(frozen=True)
class ApiThroughput:
    accepted: int
    refused: int
    seconds: float
    clients: int
    p50_ms: float
    p95_ms: float

    @property
    def per_second(self) -> float:
        return self.accepted / self.seconds

    def line(self) -> str:
        return (
            f"API: {self.per_second:.0f} accepted commands/s with Idempotency-Keys ({self.accepted} in "
            f"{self.seconds:.1f} s, {self.clients} clients, one process; latency p50 {self.p50_ms:.1f} ms, "
            f"p95 {self.p95_ms:.1f} ms; {self.refused} refused)"
        )


async def measure(dsn: str, seconds: float, clients: int) -> ApiThroughput:
    """Start ``cbr-orchestrator api`` on ``dsn`` (migrated) and post backup commands to it for ``seconds``."""
    store = await Store.connect(dsn, max_size=2)
    try:
        key = await _key(store)
    finally:
        await store.close()
    async with api_process(dsn) as base:
        return await _drive(f"{base}/v1/commands", key, seconds, clients)


@contextlib.asynccontextmanager
async def api_process(dsn: str, extra_env: Mapping[str, str] | None = None) -> AsyncIterator[str]:
    """``cbr-orchestrator api`` on a free port, without a request rate limit (``extra_env`` on top of its
    environment); yields its base URL."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CBR_ORCH_")}
    env |= {
        "CBR_ORCH_DATABASE_URL": dsn,
        "CBR_ORCH_CREDENTIALS": json.dumps([CREDENTIALS]),
        "CBR_ORCH_API__PORT": str(port),
        "CBR_ORCH_API__KEY_RATE": "1e9",
        "CBR_ORCH_API__KEY_BURST": str(10**9),
        "CBR_ORCH_METRICS__PORT": "0",  # beside other processes of the bench or the tests: no fixed port
    }
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestrator.cli", "api", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        await _until_ready(base)
        yield base
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 30)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _until_ready(base: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            with contextlib.suppress(aiohttp.ClientConnectionError):
                async with session.get(f"{base}/healthz") as answer:
                    if answer.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise RuntimeError("cbr-orchestrator api did not start within 30 s")


async def _key(store: Store) -> str:
    key = new_key()
    await store.api_keys.create(NewApiKey(key.key_id, "bench", key.secret_hash, (), ("backup",)))
    return key.presented


async def _drive(url: str, key: str, seconds: float, clients: int) -> ApiThroughput:
    latencies: list[float] = []
    counts = {"accepted": 0, "refused": 0}
    deadline = time.monotonic() + seconds
    run = uuid.uuid4().hex[:8]

    async def caller(session: aiohttp.ClientSession, n: int) -> None:
        i = 0
        while time.monotonic() < deadline:
            command_id = f"bench-{run}-{n}-{i}"
            i += 1
            started = time.monotonic()
            headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": command_id}
            async with session.post(url, json=_backup(command_id), headers=headers) as answer:
                await answer.read()
            latencies.append(time.monotonic() - started)
            counts["accepted" if answer.status == 202 else "refused"] += 1

    began = time.monotonic()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as session:
        await asyncio.gather(*(caller(session, n) for n in range(clients)))
    elapsed = time.monotonic() - began
    cuts = statistics.quantiles(latencies, n=20) if len(latencies) > 1 else [0.0] * 19
    return ApiThroughput(
        counts["accepted"], counts["refused"], elapsed, clients, cuts[9] * 1000, cuts[18] * 1000
    )


def _backup(command_id: str) -> dict[str, object]:
    return {
        "kind": "backup",
        "command_id": command_id,
        "project_id": PROJECT,
        "region": REGION,
        "vault": {"name": "bench-vault"},
        "resources": [{"id": "server-1"}, {"id": "server-2"}],
    }


async def run_api_throughput(seconds: float = 10.0, clients: int = 32) -> ApiThroughput:
    """The benchmark on a temporary database of its own."""
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + f"/bench_api_{uuid.uuid4().hex[:8]}"
    async with temporary_database(dsn):
        await run_migrations(dsn)
        return await measure(dsn, seconds, clients)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    clients = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    print(asyncio.run(run_api_throughput(seconds, clients)).line())


if __name__ == "__main__":
    main()
