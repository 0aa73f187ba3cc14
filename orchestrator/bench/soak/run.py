"""One soak, start to end: private services, the emulator in its own process, seeds, workers, chaos, audit.

Nothing here touches the machine's shared PostgreSQL or RabbitMQ: the run starts its own instances
(:mod:`orchestrator.bench.soak.services`), restarts them, and removes them at the end, whatever happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import asyncpg
from pydantic import SecretStr

from cbr_emulator.config import Tenant
from orchestrator.bench.emulator_process import EmulatorLimits, EmulatorProcess, server_ids
from orchestrator.bench.soak.accounting import DeadLetter, Figures, Observed, account, rows_of
from orchestrator.bench.soak.chaos import Chaos, ChaosLog
from orchestrator.bench.soak.options import SoakOptions
from orchestrator.bench.soak.plan import Allocation, Mix, Plan, build_plan
from orchestrator.bench.soak.seed import DESTINATION, SOURCE, seed_backups
from orchestrator.bench.soak.services import PrivatePostgres, PrivateRabbit
from orchestrator.bench.soak.traffic import EventLog, Publisher, with_reconnect
from orchestrator.bench.soak.workers import PoolFigures, WorkerPool
from orchestrator.broker import REASON_HEADER, declare_topology
from orchestrator.config import MetricsSettings, Names, ProjectCredentials, Settings
from orchestrator.messages import workflow_id_for
from orchestrator.store import Store, run_migrations
from orchestrator.store.database import create_database

DATABASE = "cbro_soak"
PUBLISH_SHARE = 0.9  # commands go out over the first 90 % of the window: the last ones still meet chaos
SETTLE_POLL_SECONDS = 1.0
PROGRESS_EVERY_SECONDS = 10.0
TRAIL_PARTS = 24
Say = Callable[[str], None]


@dataclass
class SoakResult:
    options: SoakOptions
    figures: Figures
    chaos: ChaosLog
    workers: PoolFigures
    worker_exit_codes: list[int] = field(default_factory=list)
    publish_errors: dict[str, int] = field(default_factory=dict)
    confirmed: int = 0  # messages the broker confirmed (each planned message once)
    resends: int = 0  # publishes tried again after a lost confirm
    cbr_requests: dict[str, int] = field(default_factory=dict)
    faults_fired: dict[str, int] = field(default_factory=dict)
    trails: dict[str, str] = field(default_factory=dict)  # suspect command → its CBR steps, in order
    settled: bool = False
    window_seconds: float = 0.0
    settle_seconds: float = 0.0
    wall_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.figures.ok


async def run_soak(options: SoakOptions, say: Say = lambda _: None) -> SoakResult:
    """Run one soak; everything it started is stopped and removed again, also on failure."""
    began = time.monotonic()
    mix = Mix.of(options.commands)
    async with _private_services(say) as (postgres, rabbit):
        limits = EmulatorLimits(task_seconds=options.task_seconds, waiting_seconds=0.3)
        async with EmulatorProcess(mix.servers, limits, tenants=[SOURCE, DESTINATION]) as emulator:
            allocation = Allocation.of(mix, server_ids(mix.servers))
            say(f"seeding {len(allocation.for_restore) + len(allocation.for_replication)} backups")
            seeds = await seed_backups(
                emulator.base_url, allocation.for_restore, allocation.for_replication, allocation.edge_bound
            )
            await emulator.reset_counters()
            plan = build_plan(mix, allocation, seeds, options.seed)
            dsn = await _database(postgres)
            settings = _settings(dsn, rabbit.url, emulator.base_url, options)
            result = await _soak(options, plan, settings, emulator, (postgres, rabbit), say)
            counters = await emulator.counters()
    result.cbr_requests = dict(counters["requests"]["by_operation"])
    result.faults_fired = dict(counters["faults"]["by_kind"])
    result.wall_seconds = round(time.monotonic() - began, 1)
    return result


@contextlib.asynccontextmanager
async def _private_services(say: Say) -> AsyncIterator[tuple[PrivatePostgres, PrivateRabbit]]:
    say("starting a private PostgreSQL and a private RabbitMQ")
    rabbit = PrivateRabbit()
    postgres: PrivatePostgres | None = None
    try:
        postgres = await asyncio.to_thread(PrivatePostgres, 300)
        await asyncio.gather(asyncio.to_thread(postgres.start), asyncio.to_thread(rabbit.start))
        yield postgres, rabbit
    finally:
        await asyncio.to_thread(rabbit.close)
        if postgres is not None:
            await asyncio.to_thread(postgres.close)


async def _database(postgres: PrivatePostgres) -> str:
    await create_database(postgres.dsn(DATABASE), connect_timeout=10)
    await run_migrations(postgres.dsn(DATABASE))
    return postgres.dsn(DATABASE)


def _credentials(tenant: Tenant) -> ProjectCredentials:
    return ProjectCredentials(
        project_id=tenant.project_id,
        region=tenant.region,
        access_key=tenant.access_key,
        secret_key=SecretStr(tenant.secret_key),
    )


def _settings(dsn: str, amqp_url: str, base_url: str, options: SoakOptions) -> Settings:
    return Settings(
        database_url=dsn,
        amqp_url=SecretStr(with_reconnect(amqp_url)),
        names=Names(prefix="soak"),
        credentials=[_credentials(SOURCE), _credentials(DESTINATION)],
        cbr_endpoints={SOURCE.region: base_url, DESTINATION.region: base_url},
        cbr_timeout_seconds=options.cbr_timeout_seconds,
        worker=options.worker,
        rate_limit=options.rate_limit,
        metrics=MetricsSettings(port=0),  # several workers on one machine: none serves metrics
    )


async def _soak(
    options: SoakOptions,
    plan: Plan,
    settings: Settings,
    emulator: EmulatorProcess,
    services: tuple[PrivatePostgres, PrivateRabbit],
    say: Say,
) -> SoakResult:
    url = settings.amqp_url.get_secret_value()
    connection = await aio_pika.connect_robust(url)
    async with connection:
        await declare_topology(await connection.channel(), settings.names, settings.worker.delivery_limit)
    events = EventLog()
    try:
        await events.start(url, settings.names)
        result = await _run_workers(options, plan, settings, emulator, services, events, say)
        await asyncio.sleep(1.0)  # late redeliveries of events are counted too
        seen = await _observe(plan, settings, events, emulator)
    finally:
        await events.close()
    seen.confirmed, seen.resends = result.confirmed, result.resends
    result.figures = account(seen)
    result.trails = await _trails(settings.database_url, result.figures.suspects)
    return result


async def _run_workers(
    options: SoakOptions,
    plan: Plan,
    settings: Settings,
    emulator: EmulatorProcess,
    services: tuple[PrivatePostgres, PrivateRabbit],
    events: EventLog,
    say: Say,
) -> SoakResult:
    """The workers from start to stop: the chaos window, then the wait for every workflow to end."""
    grace = 2 * settings.worker.lease_seconds + settings.cbr_timeout_seconds + 20
    pool = WorkerPool(settings, options.workers, grace, options.logs_dir, random.Random(options.seed))
    chaos = Chaos(options, pool, emulator, *services)
    publisher = Publisher(settings.amqp_url.get_secret_value(), settings.names.commands_queue)
    result = SoakResult(options, Figures(), chaos.log, pool.figures)
    try:
        await pool.start()
        say(f"{len(plan.messages)} messages over {options.window_seconds:.0f} s to {options.workers} workers")
        await _window(options, plan, publisher, chaos, events, pool, say)
        result.window_seconds = options.window_seconds
        settle_began = time.monotonic()
        result.settled = await _settle(settings.database_url, events, plan, options.settle_seconds, say)
        result.settle_seconds = round(time.monotonic() - settle_began, 1)
    finally:
        result.worker_exit_codes = await pool.stop()
        result.publish_errors = dict(publisher.errors)
        result.confirmed, result.resends = publisher.confirmed, publisher.resends
    return result


async def _window(
    options: SoakOptions,
    plan: Plan,
    publisher: Publisher,
    chaos: Chaos,
    events: EventLog,
    pool: WorkerPool,
    say: Say,
) -> None:
    """Publish every message while chaos runs (when it is on); both end with the window."""
    window = options.window_seconds
    sending = asyncio.create_task(publisher.run(plan.messages, window * PUBLISH_SHARE))
    reporting = asyncio.create_task(_report_progress(publisher, events, pool, len(plan.messages), say))
    try:
        if options.chaos:
            await chaos.run(window)
        else:
            await asyncio.sleep(window)
        await sending
    finally:
        for task in (sending, reporting):
            task.cancel()
        await asyncio.gather(sending, reporting, return_exceptions=True)


async def _report_progress(
    publisher: Publisher, events: EventLog, pool: WorkerPool, total: int, say: Say
) -> None:
    began = time.monotonic()
    while True:
        await asyncio.sleep(PROGRESS_EVERY_SECONDS)
        say(
            f"{time.monotonic() - began:5.0f} s: sent {publisher.confirmed}/{total}, final events"
            f" {events.finals_distinct}, SIGKILL {pool.figures.killed}, SIGTERM {pool.figures.terminated}"
        )


async def _settle(dsn: str, events: EventLog, plan: Plan, seconds: float, say: Say) -> bool:
    """Wait until every command has a final event and nothing is unfinished or unpublished."""
    say(f"chaos over; waiting up to {seconds:.0f} s for every workflow to end")
    deadline = time.monotonic() + seconds
    commands = list(plan.commands)
    while time.monotonic() < deadline:
        if events.ended(commands) and await _quiet(dsn):
            return True
        await asyncio.sleep(SETTLE_POLL_SECONDS)
    return False


async def _quiet(dsn: str) -> bool:
    try:
        store = await Store.connect(dsn, max_size=1)
    except (OSError, asyncpg.PostgresError):
        return False
    try:
        return await store.unfinished_count() == 0 and await store.unpublished_count() == 0
    finally:
        await store.close()


async def _observe(plan: Plan, settings: Settings, events: EventLog, emulator: EmulatorProcess) -> Observed:
    store = await Store.connect(settings.database_url, max_size=2)
    try:
        workflows = await store.list_workflows(limit=20 * len(plan.messages) + 1000)
        unpublished = await store.unpublished_count()
    finally:
        await store.close()
    ledger: dict[str, Any] = await emulator.admin("GET", "/_emulator/ledger")
    letters = await _dead_letters(settings)
    return Observed(plan, events, rows_of(workflows), letters, ledger, unpublished=unpublished)


async def _trails(dsn: str, command_ids: list[str]) -> dict[str, str]:
    """Each command's steps as ``operation:outcome(error code)``, ``|wN|`` where another worker took over."""
    store = await Store.connect(dsn, max_size=1)
    try:
        trails = {}
        for command_id in command_ids:
            workers: dict[str, int] = {}
            parts, last = [], None
            for stored in await store.steps_of(workflow_id_for(command_id)):
                number = workers.setdefault(stored.worker, len(workers) + 1)
                if number != last:
                    parts.append(f"|w{number}|")
                    last = number
                step = stored.step
                code = f"({step.error_code})" if step.error_code else ""
                parts.append(f"{step.operation}:{step.outcome.value}{code}")
            if len(parts) > TRAIL_PARTS:
                parts = [*parts[: TRAIL_PARTS - 8], "…", *parts[-8:]]
            trails[command_id] = " ".join(parts)
        return trails
    finally:
        await store.close()


async def _dead_letters(settings: Settings) -> list[DeadLetter]:
    letters = []
    connection = await aio_pika.connect_robust(settings.amqp_url.get_secret_value())
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(settings.names.dead_letter_queue, passive=True)
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            reason = (message.headers or {}).get(REASON_HEADER)
            if isinstance(reason, bytes):
                reason = reason.decode(errors="replace")
            letters.append(
                DeadLetter(message.body, message.message_id, None if reason is None else str(reason))
            )
    return letters
