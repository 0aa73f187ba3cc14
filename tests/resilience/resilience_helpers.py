"""A run of N backup commands through a real worker, a service restart in its middle, and the audit.

:class:`Run` wires the pieces the way production does: commands are published to the commands queue with
publisher confirms (re-sent when a confirm is lost, as any careful producer does), a worker
(:func:`orchestrator.worker.run_worker`) takes them in, and a consumer reads the events from a durable
queue bound to the events exchange, acking each one. :meth:`Run.audit` then checks the database, the
emulator and the received events against each other and returns the figures of the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import asyncpg
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from quick_settings import emulator_settings, quick_worker

from cbr_emulator.config import DEFAULT_TENANT, EmulatorConfig, Inventory, Progression
from cbr_emulator.inventory import build_inventory
from cbr_emulator.server import RunningEmulator
from orchestrator.broker import command_message, declare_topology, delete_topology, new_workflow
from orchestrator.config import Names, Settings
from orchestrator.messages import BackupCommand
from orchestrator.store import Store, WorkflowStatus
from orchestrator.store.named_sql import q
from orchestrator.worker import run_worker

SHARED_ADMIN_DSN = os.environ.get("CBR_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
SHARED_AMQP_URL = os.environ.get("CBR_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
COMMANDS = 30
REPORT: list[str] = []  # one line of figures per test, printed in pytest's terminal summary
PROJECT = DEFAULT_TENANT.project_id
REGION = DEFAULT_TENANT.region
RECONNECT_SECONDS = 0.5  # how soon robust AMQP connections (worker, producer, consumer) retry
PUBLISH_TIMEOUT = 5.0


def emulator_config_for(commands: int) -> EmulatorConfig:
    """Backups that take about a second, so that a restart falls on workflows still polling."""
    return EmulatorConfig(
        inventory=Inventory(servers=commands + 5, disks=0, data_disks_per_server=0),
        progression=Progression(base_seconds=1.0, gb_per_second=10_000, waiting_seconds=0.2),
    )


def with_reconnect(url: str) -> str:
    if "reconnect_interval=" in url:
        return url
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}reconnect_interval={RECONNECT_SECONDS}"


def make_settings(dsn: str, amqp_url: str, emulator: RunningEmulator) -> Settings:
    worker = quick_worker(
        lease_seconds=4, settle_seconds=3.5, status_poll_seconds=0.2, relay_poll_seconds=0.3
    )
    return emulator_settings(
        dsn,
        emulator.base_url,
        amqp_url=with_reconnect(amqp_url),
        prefix=f"test.resilience.{uuid.uuid4().hex[:10]}",
        worker=worker,
        cbr_timeout_seconds=3.0,
    )


def backup_commands(config: EmulatorConfig, n: int, tag: str) -> list[BackupCommand]:
    """N single-server backups into one vault (created by whichever workflow gets there first)."""
    servers = list(build_inventory(config.inventory, REGION, PROJECT).servers)
    assert len(servers) >= n, "the emulator inventory is too small for the batch"
    return [
        BackupCommand.model_validate(
            {
                "command_id": f"{tag}-{i:03d}",
                "project_id": PROJECT,
                "region": REGION,
                "vault": {"name": f"vault-{tag}", "create": {"size_gb": 100_000}},
                "resources": [{"id": servers[i]}],
            }
        )
        for i in range(n)
    ]


class HeldCommand:
    """Keeps one command's intake in progress for as long as the test wants.

    An open transaction inserts a workflow row with the command's id, so the intake's insert-if-absent waits
    on it: the command's message is delivered and unacked, the worker mid-way through taking it in. A
    restart then falls exactly there; :meth:`release` rolls the row back and lets the intake go on.
    """

    def __init__(self, dsn: str, command: BackupCommand) -> None:
        self.dsn = dsn
        self.command = command
        self._conn: asyncpg.Connection | None = None
        self._tx: Any = None

    async def __aenter__(self) -> HeldCommand:
        conn: asyncpg.Connection = await asyncpg.connect(self.dsn, timeout=10)
        await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
        self._conn, self._tx = conn, conn.transaction()
        await self._tx.start()
        new = new_workflow(self.command)
        await conn.execute(
            q("insert_workflow"),
            new.id,
            new.command_id,
            new.kind,
            new.project_id,
            new.region,
            new.input,
            new.state,
            new.deadline,
            new.reply_to,
            new.correlation_id,
        )
        return self

    async def waited_on(self, seconds: float = 15) -> None:
        """Return once another session (the intake) waits for our row."""
        assert self._conn is not None
        deadline = time.monotonic() + seconds
        while not await self._conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        ):
            assert time.monotonic() < deadline, f"the intake never reached {self.command.command_id}"
            await asyncio.sleep(0.05)

    async def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._tx.rollback()
            await self._conn.close()
            self._conn = None

    async def __aexit__(self, *exc: object) -> None:
        await self.release()


@dataclass
class Producer:
    """Publishes commands one by one, each until the broker confirms it (resending after a failure)."""

    sent: int = 0
    resends: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    async def run(self, url: str, names: Names, commands: list[BackupCommand], interval: float) -> None:
        connection = await aio_pika.connect_robust(with_reconnect(url))
        try:
            channel = await connection.channel(publisher_confirms=True)
            for command in commands:
                while True:
                    try:
                        await asyncio.wait_for(
                            channel.default_exchange.publish(
                                command_message(command), routing_key=names.commands_queue
                            ),
                            PUBLISH_TIMEOUT,
                        )
                        break
                    except Exception as exc:  # broker restarting: the confirm never came; send again
                        self.errors[type(exc).__name__] += 1
                        self.resends += 1
                        await asyncio.sleep(0.2)
                self.sent += 1
                await asyncio.sleep(interval)
        finally:
            with contextlib.suppress(Exception):
                await connection.close()


@dataclass
class Consumer:
    """Reads every event from a durable queue bound to the events exchange, acking each after noting it."""

    events: list[dict[str, Any]] = field(default_factory=list)
    connection: AbstractRobustConnection | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self, url: str, names: Names, queue_name: str) -> None:
        self.connection = await aio_pika.connect_robust(with_reconnect(url))
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=100)
        queue = await channel.declare_queue(queue_name, durable=True, arguments={"x-queue-type": "quorum"})
        await queue.bind(names.events_exchange, routing_key="#")
        await queue.consume(self._on_message)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self.events.append(json.loads(message.body))
        self._changed.set()
        with contextlib.suppress(Exception):  # a lost ack only means a redelivery: a counted duplicate
            await message.ack()

    @property
    def finals(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["data"]["outcome"] != "progress"]

    def distinct_finals(self) -> int:
        return len({e["id"] for e in self.finals})

    async def wait_for(self, distinct: int, seconds: float, alive: Callable[[], None]) -> None:
        deadline = time.monotonic() + seconds
        while self.distinct_finals() < distinct:
            alive()
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"only {self.distinct_finals()} of {distinct} final events arrived in {seconds} s"
                )
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.5))

    async def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(Exception):
                await self.connection.close()


@dataclass(frozen=True)
class Restart:
    """A named, awaitable restart of one service (blocking work runs in a thread)."""

    name: str
    action: Callable[[], Awaitable[None]]


@dataclass
class AtRestart:
    """Where the run stood when a restart began, and how long the restart took."""

    name: str
    sent: int
    finals: int
    unfinished: int
    seconds: float = 0.0


@dataclass
class Figures:
    commands: int
    restarts: list[AtRestart]
    resends: int
    workflows: int
    succeeded: int
    events_total: int
    events_distinct: int
    final_events_total: int
    final_events_distinct: int
    duplicate_deliveries: int
    checkpoints: int
    checkpoint_calls: int
    backups_per_server_max: int
    dead_letters: int
    redelivered_commands: int
    wall_seconds: float

    def report(self, test: str) -> str:
        """Record the figures for the terminal summary; return them as one line."""
        line = f"{test}: {self.line()}"
        REPORT.append(line)
        return line

    def line(self) -> str:
        def show(value: Any) -> str:
            if isinstance(value, list):
                return "[" + "; ".join(show(v) for v in value) + "]"
            if isinstance(value, AtRestart):
                return " ".join(f"{k}={v}" for k, v in value.__dict__.items())
            return str(value)

        return " ".join(f"{k}={show(v)}" for k, v in self.__dict__.items())


class Run:
    """One batch of backup commands through one worker, with services restarted while it is under way.

    By default the producer sends the commands at a steady pace while the worker runs until told to stop;
    with ``drain`` every command is queued first and the worker (``run_worker(drain=True)``, the demo's
    mode) must stop by itself once all is done, restarts or not.
    """

    def __init__(
        self,
        settings: Settings,
        emulator: RunningEmulator,
        emulator_config: EmulatorConfig,
        *,
        commands: int,
        tag: str,
        interval: float = 0.15,
        drain: bool = False,
    ) -> None:
        self.settings = settings
        self.emulator = emulator
        self.commands = backup_commands(emulator_config, commands, tag)
        self.interval = interval
        self.drain = drain
        self.url = settings.amqp_url.get_secret_value()
        self.events_queue = f"{settings.names.prefix}.test-events"
        self.producer = Producer()
        self.consumer = Consumer()
        self.stop = asyncio.Event()
        self.worker: asyncio.Task[None] | None = None
        self.restarts: list[AtRestart] = []
        self.wall_seconds = 0.0
        self._started = 0.0

    async def __aenter__(self) -> Run:
        self._started = time.monotonic()
        connection = await aio_pika.connect_robust(self.url)
        async with connection:
            channel = await connection.channel()
            await declare_topology(channel, self.settings.names, self.settings.worker.delivery_limit)
        await self.consumer.start(self.url, self.settings.names, self.events_queue)
        if self.drain:
            await self.producer.run(self.url, self.settings.names, self.commands, 0.0)
        self.worker = asyncio.create_task(
            run_worker(self.settings, self.stop, drain=self.drain, owner="resilient")
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        if self.worker is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self.worker), 20)
            if not self.worker.done():
                self.worker.cancel()
                await asyncio.gather(self.worker, return_exceptions=True)
        await self.consumer.close()
        with contextlib.suppress(Exception):  # the private broker may be gone when a test failed
            connection = await asyncio.wait_for(aio_pika.connect_robust(self.url), 10)
            async with connection:
                channel = await connection.channel()
                await channel.queue_delete(self.events_queue)
                await delete_topology(channel, self.settings.names)

    def worker_alive(self) -> None:
        """Raise at once if the worker has stopped: it must survive the restart by itself."""
        assert self.worker is not None
        if self.worker.done():
            error = None if self.worker.cancelled() else self.worker.exception()
            raise AssertionError(f"the worker stopped during the run: {error!r}") from error

    async def execute(self, restarts: list[Restart], unfinished: Callable[[], Awaitable[int]]) -> None:
        """Send the batch; restart the services one after the other mid-run; wait for every final event.

        Restart ``i`` begins once ``i + 1`` thirds of the commands are sent (when sending at a pace) and
        at least one more final event has arrived since the previous restart.
        """
        n = len(self.commands)
        sending = None
        if not self.drain:
            sending = asyncio.create_task(
                self.producer.run(self.url, self.settings.names, self.commands, self.interval)
            )
        try:
            finals = 0
            for i, restart in enumerate(restarts):
                deadline = time.monotonic() + 20
                while (
                    self.producer.sent < (i + 1) * n // (len(restarts) + 2)
                    or self.consumer.distinct_finals() <= finals
                ):
                    self.worker_alive()
                    assert time.monotonic() < deadline, (
                        f"no progress before {restart.name}: sent={self.producer.sent}"
                        f" events={len(self.consumer.events)}"
                    )
                    await asyncio.sleep(0.05)
                finals = self.consumer.distinct_finals()
                at = AtRestart(restart.name, self.producer.sent, finals, await unfinished())
                t0 = time.monotonic()
                await restart.action()
                at.seconds = round(time.monotonic() - t0, 2)
                self.restarts.append(at)
            if sending is not None:
                await asyncio.wait_for(asyncio.shield(sending), 30)
            if self.drain:
                assert self.worker is not None
                await asyncio.wait_for(asyncio.shield(self.worker), 40)  # stops by itself, no error
                await self.consumer.wait_for(n, 10, lambda: None)
            else:
                await self.consumer.wait_for(n, 40, self.worker_alive)
        finally:
            if sending is not None and not sending.done():
                sending.cancel()
            if sending is not None:
                await asyncio.gather(sending, return_exceptions=True)
        self.wall_seconds = round(time.monotonic() - self._started, 2)
        await asyncio.sleep(0.5)  # late duplicates (redeliveries) are counted too
        if not self.drain:
            self.worker_alive()

    async def audit(self, redelivered_commands: int) -> Figures:
        """Check the run from every side; return its figures (the assertions say what failed)."""
        n = len(self.commands)
        wanted = {c.command_id for c in self.commands}
        store = await Store.connect(self.settings.database_url, max_size=2)
        try:
            workflows = await store.list_workflows(limit=10 * n)
            outbox: dict[str, str] = {}
            for wf in workflows:
                for stored in await store.events_of(wf.id):
                    if stored.body["data"]["outcome"] != "progress":
                        outbox[stored.event_id] = wf.command_id
            unpublished = await store.unpublished_count()
        finally:
            await store.close()

        assert self.producer.sent == n
        assert sorted(wf.command_id for wf in workflows) == sorted(wanted), "one workflow per command"
        not_ok = [
            (wf.command_id, wf.status.value, wf.error_message)
            for wf in workflows
            if wf.status is not WorkflowStatus.SUCCEEDED
        ]
        assert not_ok == [], "every workflow succeeded"
        assert unpublished == 0, "the outbox is empty"

        finals = self.consumer.finals
        received = {e["id"]: e for e in finals}
        assert set(received) == set(outbox), "every final event in the outbox reached the consumer"
        assert {e["data"]["command_id"] for e in finals} == wanted
        assert all(e["data"]["outcome"] == "succeeded" for e in finals)
        for event_id, event in received.items():
            assert event["data"]["command_id"] == outbox[event_id]

        project = self.emulator.emulator.world.project(REGION, PROJECT)
        per_server = Counter(b.resource_id for vault in project.by_vault.values() for b in vault.values())
        checkpoint_ids = {wf.result["checkpoint_id"] for wf in workflows if wf.result}
        assert len(project.checkpoints) == n, "exactly one checkpoint per command in the emulator"
        assert checkpoint_ids == set(project.checkpoints), "each workflow recorded its own checkpoint"
        assert self.emulator.counters.requests_of("create_checkpoint") == n
        assert set(per_server.values()) == {1}, "one backup per server"

        dead = await self._dead_letters()
        assert dead == 0, "nothing was dead-lettered"
        ids = [e["id"] for e in self.consumer.events]
        return Figures(
            commands=n,
            restarts=self.restarts,
            resends=self.producer.resends,
            workflows=len(workflows),
            succeeded=sum(wf.status is WorkflowStatus.SUCCEEDED for wf in workflows),
            events_total=len(ids),
            events_distinct=len(set(ids)),
            final_events_total=len(finals),
            final_events_distinct=len(received),
            duplicate_deliveries=len(ids) - len(set(ids)),
            checkpoints=len(project.checkpoints),
            checkpoint_calls=self.emulator.counters.requests_of("create_checkpoint"),
            backups_per_server_max=max(per_server.values()),
            dead_letters=dead,
            redelivered_commands=redelivered_commands,
            wall_seconds=self.wall_seconds,
        )

    async def _dead_letters(self) -> int:
        connection = await aio_pika.connect_robust(self.url)
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(self.settings.names.dead_letter_queue, passive=True)
            return int(queue.declaration_result.message_count or 0)
