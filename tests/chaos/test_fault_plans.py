"""Property: whatever the interleaving of commands, duplicates, cloud faults, crashes and lost leases,
no command gets two checkpoints, every workflow ends, and each ends with exactly one final event.

A hypothesis state machine drives real engines (each with its own database pool and CBR clients, as
separate workers have them) against a real PostgreSQL and the emulator, on one event loop. Its rules:

* ``submit`` a backup command, and ``duplicate`` one already submitted;
* ``faults``: a fault plan drawn from every error code of CBR's table (with its HTTP status), throttling,
  lost answers (executed, then the connection dropped), gateway errors after execution and latency;
* ``crash`` a worker: its database connections cut and its tasks cancelled at once, no clean-up (as a
  SIGKILL leaves things), and a new worker started;
* ``lose_leases`` of a worker: its database connections cut while its runs go on; its leases are not
  renewed, its runs must stop before their leases end, and others take over;
* ``wait`` a while.

After every step: at most one checkpoint per command in the emulator's state. At the end, with the faults
lifted: every workflow ended, each with one final event, and none with two checkpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass

import asyncpg
import pytest
from chaos_helpers import all_ended, checkpoints_by_marker, server_ids
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from pg_databases import dsn_of, unique_name
from quick_settings import emulator_settings, quick_worker
from store_rows import create_one, raw_sql

from cbr_emulator.config import DEFAULT_TENANT, EmulatorConfig, Progression
from cbr_emulator.errors import error_table
from cbr_emulator.faults import FaultPlan, FaultRule
from cbr_emulator.server import RunningEmulator, start_emulator
from orchestrator.broker import new_workflow
from orchestrator.cbr.clients import CbrClients
from orchestrator.config import Settings
from orchestrator.engine import CbrActions, Engine
from orchestrator.messages import BackupCommand
from orchestrator.polling.poller import Poller
from orchestrator.store import Store, run_migrations

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")  # connections cut on purpose

OPERATIONS = (
    "list_vault",
    "create_vault",
    "add_vault_resource",
    "create_checkpoint",
    "list_backups",
    "list_op_logs",
    "show_checkpoint",
    "show_vault",
    "*",
)
CODES = sorted((code, int(entry["status"])) for code, entry in error_table().items())
SERVERS = 6
SETTLE_END_SECONDS = 60


def fault_rules() -> st.SearchStrategy[FaultRule]:
    chance = st.sampled_from([0.0, 0.1, 0.3, 0.6])
    return st.builds(
        lambda operation, code, throttle, error, lost, gateway, latency: FaultRule(
            operation=operation,
            throttle_probability=throttle,
            retry_after_seconds=0.1,
            error_probability=error,
            error_code=code[0],
            error_status=code[1],
            timeout_probability=lost,
            hang_seconds=0.7,
            error_after_execute_probability=gateway,
            latency_seconds=latency,
            latency_probability=0.5,
        ),
        st.sampled_from(OPERATIONS),
        st.sampled_from(CODES),
        chance,
        chance,
        chance,
        chance,
        st.sampled_from([0.0, 0.0, 0.3, 0.8]),  # at most the settle window (a late execution's bound)
    )


def quick_settings(dsn: str, emulator: RunningEmulator) -> Settings:
    """Everything fast: the steps of a run are fractions of a second here."""
    worker = quick_worker(
        lease_seconds=1.5,
        lease_margin_seconds=0.3,
        heartbeat_seconds=0.3,
        settle_seconds=1.0,
        settle_base_seconds=0.1,
        drain_seconds=0.2,
        idle_poll_seconds=0.1,
        backoff_base_seconds=0.05,
        backoff_max_seconds=0.3,
        max_failures_per_request=8,
    )
    return emulator_settings(
        dsn, emulator.base_url, worker=worker, cbr_timeout_seconds=0.5, cbr_max_retry_after_seconds=0.2
    )


@dataclass
class Worker:
    """One worker's engine, its own pool and CBR clients, and the task running it."""

    store: Store
    clients: CbrClients
    stop: asyncio.Event
    task: asyncio.Task[None]

    @classmethod
    async def start(cls, settings: Settings) -> Worker:
        store = await Store.connect(settings.database_url, max_size=4)
        clients = CbrClients(settings)
        engine = Engine(store, settings, CbrActions(clients, Poller(clients, window=0.02)))
        stop = asyncio.Event()
        return cls(store, clients, stop, asyncio.create_task(engine.run(stop)))

    async def cut_database(self) -> None:
        raw_sql(self.store).terminate()

    async def kill(self) -> None:
        """No clean-up that a SIGKILL would not allow: connections cut, tasks cancelled."""
        await self.cut_database()
        self.task.cancel()
        with contextlib.suppress(BaseException):
            await self.task
        await self.clients.close()

    async def stop_cleanly(self) -> None:
        self.stop.set()
        await self.task
        await self.clients.close()
        await self.store.close()


class FaultPlans(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.commands: list[BackupCommand] = []
        self.workers: list[Worker] = []

    def run(self, coroutine: object) -> object:
        return self.loop.run_until_complete(coroutine)  # type: ignore[arg-type]

    @initialize()
    def start(self) -> None:
        self.run(self._start())

    async def _start(self) -> None:
        self.database = unique_name("prop")
        admin = await asyncpg.connect(dsn_of("postgres"))
        try:
            await admin.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            await admin.close()
        await run_migrations(dsn_of(self.database))
        self.emulator = await start_emulator(EmulatorConfig(progression=Progression.instantly()))
        self.settings = quick_settings(dsn_of(self.database), self.emulator)
        self.observer = await Store.connect(self.settings.database_url, max_size=2)
        self.servers = server_ids(self.emulator, SERVERS)
        self.workers = [await Worker.start(self.settings) for _ in range(2)]

    # ------------------------------------------------------------------ rules

    @rule(
        picks=st.lists(st.integers(0, SERVERS - 1), min_size=1, max_size=2, unique=True),
        vault=st.integers(0, 1),
    )
    def submit(self, picks: list[int], vault: int) -> None:
        command = BackupCommand.model_validate(
            {
                "command_id": f"prop-{len(self.commands)}",
                "project_id": DEFAULT_TENANT.project_id,
                "region": DEFAULT_TENANT.region,
                "vault": {"name": f"prop-vault-{vault}", "create": {"size_gb": 100_000}},
                "resources": [{"id": self.servers[i]} for i in picks],
            }
        )
        self.commands.append(command)
        self.run(create_one(self.observer, new_workflow(command)))

    @precondition(lambda self: self.commands)
    @rule(data=st.data())
    def duplicate(self, data: st.DataObject) -> None:
        command = data.draw(st.sampled_from(self.commands))
        self.run(create_one(self.observer, new_workflow(command)))

    @rule(rules=st.lists(fault_rules(), max_size=3), seed=st.integers(0, 1000))
    def faults(self, rules: list[FaultRule], seed: int) -> None:
        self.emulator.faults.replace(FaultPlan(seed=seed, rules=rules))

    @rule(which=st.integers(0, 1))
    def crash(self, which: int) -> None:
        self.run(self._replace(which, lose_leases_first=False))

    @rule(which=st.integers(0, 1))
    def lose_leases(self, which: int) -> None:
        self.run(self._replace(which, lose_leases_first=True))

    async def _replace(self, which: int, lose_leases_first: bool) -> None:
        worker = self.workers[which]
        if lose_leases_first:  # the database away; its runs go on until their leases would end
            await worker.cut_database()
            await asyncio.sleep(self.settings.worker.lease_seconds)
        await worker.kill()
        self.workers[which] = await Worker.start(self.settings)

    @rule(seconds=st.sampled_from([0.2, 0.5, 1.0, 1.5]))
    def wait(self, seconds: float) -> None:
        self.run(asyncio.sleep(seconds))

    # ------------------------------------------------------------------ properties

    @invariant()
    def never_two_checkpoints_for_one_command(self) -> None:
        if self.workers:
            doubled = {m: n for m, n in checkpoints_by_marker(self.emulator).items() if n > 1}
            assert not doubled, f"commands with more than one checkpoint: {doubled}"

    def teardown(self) -> None:
        try:
            if self.workers:
                self.run(self._settle_and_check())
        finally:
            self.run(self._close())
            self.loop.close()

    async def _settle_and_check(self) -> None:
        self.emulator.faults.clear()
        await all_ended(self.observer, SETTLE_END_SECONDS)
        rows = await raw_sql(self.observer).fetch(
            "SELECT w.command_id, count(o.id) FILTER (WHERE o.routing_key NOT LIKE '%.progress') AS finals"
            "  FROM workflows w LEFT JOIN outbox o ON o.workflow_id = w.id GROUP BY w.command_id"
        )
        assert {r["command_id"] for r in rows} == {c.command_id for c in self.commands}
        assert {r["command_id"]: r["finals"] for r in rows if r["finals"] != 1} == {}
        self.never_two_checkpoints_for_one_command()

    async def _close(self) -> None:
        for worker in self.workers:
            await worker.stop_cleanly()
        if hasattr(self, "observer"):
            await self.observer.close()
        if hasattr(self, "emulator"):
            await self.emulator.close()
        if hasattr(self, "database"):
            admin = await asyncpg.connect(dsn_of("postgres"))
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            finally:
                await admin.close()


FaultPlans.TestCase.settings = settings(
    max_examples=int(os.environ.get("CBR_TEST_FAULT_PLAN_EXAMPLES", "8")),  # more for a long run
    stateful_step_count=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestFaultPlans = FaultPlans.TestCase
