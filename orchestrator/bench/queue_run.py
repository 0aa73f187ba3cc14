"""Commands through the queue to W real worker processes, on the machine's shared PostgreSQL and RabbitMQ.

Everything is created for the run and removed afterwards: a database, RabbitMQ names with their own
prefix. Workers are real ``cbr-orchestrator worker`` processes configured through environment variables
only. :func:`run_through_queue` runs any commands against any CBR endpoint and waits for the events it is
told to count; ``cbr-orchestrator bench`` uses it with an emulator in its own process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection

from cbr_emulator.config import DEFAULT_TENANT, Tenant
from orchestrator.bench.status_cost import StatusCost, measure_status
from orchestrator.broker import command_message, declare_topology, delete_topology
from orchestrator.config import (
    MetricsSettings,
    Names,
    ProjectCredentials,
    RateLimitSettings,
    Settings,
    WorkerSettings,
)
from orchestrator.messages import BackupCommand, Command
from orchestrator.store import Store, run_migrations
from orchestrator.store.database import temporary_database

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
WORKERS_START_SECONDS = 60.0
WORKER_TUNING = WorkerSettings(
    concurrency=64, prefetch=300, status_poll_seconds=1.0, idle_poll_seconds=0.5, relay_poll_seconds=1.0
)
# An emulator without a request-rate limit: the shared limiter must not be what is measured.
UNLIMITED_RATE = RateLimitSettings(rate=5000, burst=1000, max_rate=5000, max_lease=200)


def _dsn_of(db: str) -> str:
    return ADMIN_DSN.rsplit("/", 1)[0] + "/" + db


@contextlib.asynccontextmanager
async def _database(name: str) -> AsyncIterator[str]:
    async with temporary_database(_dsn_of(name)) as dsn:
        await run_migrations(dsn)
        yield dsn


def _credentials(tenant: Tenant) -> ProjectCredentials:
    return ProjectCredentials.model_validate(
        {
            "project_id": tenant.project_id,
            "region": tenant.region,
            "access_key": tenant.access_key,
            "secret_key": tenant.secret_key,
        }
    )


def _settings(dsn: str, prefix: str, plan: QueuePlan) -> Settings:
    return Settings(
        database_url=dsn,
        names=Names(prefix=prefix),
        credentials=[_credentials(t) for t in plan.tenants],
        cbr_endpoints={t.region: plan.base_url for t in plan.tenants},
        worker=plan.tuning,
        rate_limit=plan.rate_limit,
        metrics=MetricsSettings(port=0),  # several workers on one machine: none serves metrics
    )


def worker_env(settings: Settings) -> dict[str, str]:
    """The settings as a worker process reads them: environment variables only."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("CBR_ORCH_")}
    return inherited | settings.as_environment()


def backup_commands(server_ids: list[str]) -> list[BackupCommand]:
    t = DEFAULT_TENANT
    return [
        BackupCommand.model_validate(
            {
                "command_id": f"soak-{i}",
                "project_id": t.project_id,
                "region": t.region,
                "vault": {"name": f"soak-{i // 250}", "create": {"size_gb": 1_000_000}},
                "resources": [{"id": s}],
            }
        )
        for i, s in enumerate(server_ids)
    ]


EventFilter = Callable[[dict[str, Any]], bool]


def any_final(event: dict[str, Any]) -> bool:
    return str(event["data"]["outcome"]) != "progress"


class EventTally:
    """Counts events; ``done`` is set once ``expected`` distinct events passing ``counted`` have arrived.

    Those events are kept (``kept``) with the monotonic time the last of them arrived (``last_at``).
    """

    def __init__(self, expected: int, counted: EventFilter = any_final) -> None:
        self.expected = expected
        self.counted = counted
        self.total = 0
        self.ids: set[str] = set()
        self.finals = 0
        self.final_ids: set[str] = set()
        self.kept: dict[str, dict[str, Any]] = {}
        self.last_at = 0.0
        self.done = asyncio.Event()

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        async with message.process():
            event = json.loads(message.body)
        self.total += 1
        self.ids.add(str(event["id"]))
        if any_final(event):
            self.finals += 1
            self.final_ids.add(str(event["id"]))
        if self.counted(event):
            self.kept[str(event["id"])] = event
            self.last_at = time.monotonic()
            if len(self.kept) >= self.expected:
                self.done.set()


async def _publish_all(connection: AbstractRobustConnection, queue: str, commands: Sequence[Command]) -> None:
    channel = await connection.channel(publisher_confirms=True)
    try:
        await asyncio.gather(
            *(channel.default_exchange.publish(command_message(c), routing_key=queue) for c in commands)
        )
    finally:
        await channel.close()


async def _start_workers(settings: Settings, count: int) -> list[asyncio.subprocess.Process]:
    env = worker_env(settings)
    return [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "orchestrator.cli",
            "worker",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for _ in range(count)
    ]


async def _await_consumers(channel: AbstractChannel, queue: str, count: int) -> None:
    """Wait until ``count`` consumers listen on ``queue`` (the workers are up and consuming)."""
    underlay = await channel.get_underlay_channel()  # aio-pika's queues keep their first declaration
    while True:
        declared = await underlay.queue_declare(queue, passive=True)
        if (declared.consumer_count or 0) >= count:
            return
        await asyncio.sleep(0.1)


def peak_rss_kib(pid: int) -> int | None:
    """The peak resident set size (``VmHWM``) of a live process, from /proc; None when unknown."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time a live process has used, from /proc/<pid>/stat; None when unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return None
    # after the command name: state is field 3 of stat(5), utime 14 and stime 15
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_used(before: list[float | None], pids: list[int]) -> list[float | None]:
    after = [cpu_seconds(pid) for pid in pids]
    return [None if a is None or b is None else round(a - b, 3) for b, a in zip(before, after, strict=True)]


async def _stop_workers(procs: list[asyncio.subprocess.Process], grace: float = 30.0) -> list[int | None]:
    for proc in procs:
        if proc.returncode is None:
            proc.terminate()
    codes: list[int | None] = []
    for proc in procs:
        try:
            codes.append(await asyncio.wait_for(proc.wait(), grace))
        except TimeoutError:
            proc.kill()
            codes.append(await proc.wait())
    return codes


async def _count_workflows(dsn: str) -> dict[str, int]:
    store = await Store.connect(dsn, max_size=2)
    try:
        return {status.value: n for status, n in (await store.count_by_status()).items()}
    finally:
        await store.close()


@dataclass
class QueueRun:
    """What one run of commands through the queue to real worker processes produced.

    Times are seconds from the first publish: ``published_after`` when every command was confirmed,
    ``counted_after`` when the last counted event arrived (or the wait ended).
    """

    tally: EventTally
    workflows: dict[str, int]
    worker_exit_codes: list[int | None]
    worker_peak_rss_kib: list[int | None]
    worker_cpu_seconds: list[float | None]  # from the first publish to the last counted event
    timed_out: bool
    published_after: float
    counted_after: float
    status_costs: list[StatusCost] = field(default_factory=list)


@dataclass(frozen=True)
class QueuePlan:
    """How to run: the commands, how many workers (started before or after publishing), which events count."""

    commands: Sequence[Command]
    workers: int
    base_url: str
    expected: int
    counted: EventFilter = any_final
    tuning: WorkerSettings = WORKER_TUNING
    rate_limit: RateLimitSettings = UNLIMITED_RATE
    workers_first: bool = False
    wait_seconds: float = 600.0
    label: str = "soak"
    tenants: Sequence[Tenant] = (DEFAULT_TENANT,)  # the projects the workers have credentials for
    status_of_counted: bool = False  # measure ``status`` of the first counted event's workflow


async def run_through_queue(plan: QueuePlan) -> QueueRun:
    """Publish ``plan.commands``, run ``plan.workers`` worker processes against the CBR endpoint at
    ``plan.base_url`` until ``plan.expected`` counted events arrived; a fresh database and fresh
    RabbitMQ names for the run, removed afterwards."""
    run = uuid.uuid4().hex[:8]
    async with _database(f"cbro_{plan.label}_{run}") as dsn:
        settings = _settings(dsn, f"{plan.label}.{run}", plan)
        connection = await aio_pika.connect_robust(AMQP_URL)
        try:
            channel = await connection.channel()
            await declare_topology(channel, settings.names, settings.worker.delivery_limit)
            try:
                result = await _run_with_topology(plan, settings, connection, channel)
            finally:
                await delete_topology(channel, settings.names)
        finally:
            await connection.close()
        result.workflows = await _count_workflows(dsn)
        if plan.status_of_counted and result.tally.kept:
            ref = str(next(iter(result.tally.kept.values()))["data"]["workflow_id"])
            for as_json in (False, True):
                result.status_costs.append(await asyncio.to_thread(measure_status, dsn, ref, as_json))
    return result


async def _run_with_topology(
    plan: QueuePlan, settings: Settings, connection: AbstractRobustConnection, channel: AbstractChannel
) -> QueueRun:
    tally = EventTally(plan.expected, plan.counted)
    events = await channel.declare_queue(exclusive=True)
    await events.bind(settings.names.events_exchange, routing_key="#")
    await events.consume(tally.on_message)
    procs: list[asyncio.subprocess.Process] = []
    try:
        if plan.workers_first:
            procs = await _start_workers(settings, plan.workers)
            await asyncio.wait_for(
                _await_consumers(channel, settings.names.commands_queue, plan.workers), WORKERS_START_SECONDS
            )
        cpu_before = [cpu_seconds(p.pid) for p in procs]
        started = time.monotonic()
        await _publish_all(connection, settings.names.commands_queue, plan.commands)
        published_after = time.monotonic() - started
        if not plan.workers_first:
            procs = await _start_workers(settings, plan.workers)
        timed_out = False
        try:
            await asyncio.wait_for(tally.done.wait(), plan.wait_seconds)
        except TimeoutError:
            timed_out = True
        counted_after = (tally.last_at if tally.done.is_set() else time.monotonic()) - started
        peaks = [peak_rss_kib(p.pid) for p in procs]
        cpu: list[float | None] = [None] * len(procs)
        if plan.workers_first:
            cpu = _cpu_used(cpu_before, [p.pid for p in procs])
    finally:
        codes = await _stop_workers(procs)
    return QueueRun(tally, {}, codes, peaks, cpu, timed_out, published_after, counted_after)
