"""The API's throughput: backup commands accepted per second by one API process, each with its own
Idempotency-Key, sent over HTTP by ``clients`` concurrent callers for ``seconds``.

``python -m orchestrator.bench.api_throughput [seconds] [clients]`` runs it on a temporary database.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from orchestrator.api.app import build_app
from orchestrator.api.context import ApiContext
from orchestrator.api.keys import new_key
from orchestrator.config import ProjectCredentials, Settings
from orchestrator.store import Store, run_migrations
from orchestrator.store.api_keys import NewApiKey
from orchestrator.store.database import temporary_database

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
PROJECT, REGION = "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "eu-west-101"


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


async def measure(store: Store, settings: Settings, seconds: float, clients: int) -> ApiThroughput:
    """Serve the API on a local port and post backup commands to it for ``seconds``."""
    unlimited = settings.api.model_copy(update={"key_rate": 1e9, "key_burst": 10**9})
    app = build_app(ApiContext(settings.model_copy(update={"api": unlimited}), store))
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/v1/commands"
        return await _drive(url, await _key(store), seconds, clients)
    finally:
        await runner.cleanup()


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


def bench_settings(dsn: str) -> Settings:
    credentials = ProjectCredentials.model_validate(
        {"project_id": PROJECT, "region": REGION, "access_key": "bench", "secret_key": "bench"}
    )
    return Settings(database_url=dsn, credentials=[credentials])


async def run_api_throughput(seconds: float = 10.0, clients: int = 32) -> ApiThroughput:
    """The benchmark on a temporary database of its own."""
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + f"/bench_api_{uuid.uuid4().hex[:8]}"
    async with temporary_database(dsn):
        await run_migrations(dsn)
        store = await Store.connect(dsn, max_size=20)
        try:
            return await measure(store, bench_settings(dsn), seconds, clients)
        finally:
            await store.close()


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    clients = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    print(asyncio.run(run_api_throughput(seconds, clients)).line())


if __name__ == "__main__":
    main()
