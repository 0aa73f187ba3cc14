"""Checkpoint polls of a project cost one task listing per tick, never a call per task (emulator counters)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from cbr_emulator.config import DEFAULT_TENANT, EmulatorConfig, Inventory, Progression
from cbr_emulator.inventory import SERVER_TYPE, build_inventory
from cbr_emulator.server import RunningEmulator, start_emulator
from orchestrator.cbr.auth import AkSkAuth
from orchestrator.cbr.bodies import BillingCreate, CheckpointParameters, ResourceRef, VaultCreate
from orchestrator.cbr.client import CbrClient
from orchestrator.cbr.clients import CbrClients
from orchestrator.cbr.endpoints import Endpoints
from orchestrator.cbr.signing import Credentials
from orchestrator.config import ProjectCredentials, Settings, WorkerSettings
from orchestrator.polling.poller import Poller
from orchestrator.workflows.base import CheckpointStatus

T = DEFAULT_TENANT
SERVERS, VAULTS = 600, 3
TASK_SECONDS = 60
CALLS = ("list_op_logs", "list_backups", "show_checkpoint", "show_backup", "show_op_log")


@pytest.fixture
async def running() -> AsyncIterator[RunningEmulator]:
    config = EmulatorConfig(
        manual_clock=True,
        progression=Progression(base_seconds=TASK_SECONDS, waiting_seconds=0),
        inventory=Inventory(servers=SERVERS, disks=0, data_disks_per_server=0),
    )
    em = await start_emulator(config)
    yield em
    await em.close()


@pytest.fixture
async def poller(running: RunningEmulator) -> AsyncIterator[Poller]:
    cred = ProjectCredentials.model_validate(
        {
            "project_id": T.project_id,
            "region": T.region,
            "access_key": T.access_key,
            "secret_key": T.secret_key,
        }
    )
    settings = Settings(
        credentials=[cred],
        cbr_endpoints={T.region: running.base_url},
        worker=WorkerSettings(status_poll_seconds=0.1),
    )
    clients = CbrClients(settings)
    yield Poller(clients)
    await clients.close()


Query = tuple[str, str, datetime]  # vault, checkpoint, since


@pytest.fixture
async def in_flight(running: RunningEmulator) -> list[Query]:
    """One single-server checkpoint per server, in VAULTS vaults: SERVERS running backup tasks."""
    since = datetime.now(UTC) - timedelta(seconds=1)
    ids = list(
        build_inventory(
            Inventory(servers=SERVERS, disks=0, data_disks_per_server=0), T.region, T.project_id
        ).servers
    )
    per_vault = SERVERS // VAULTS
    cbr = CbrClient(
        region=T.region,
        project_id=T.project_id,
        auth=AkSkAuth(Credentials(T.access_key, T.secret_key)),
        endpoints=Endpoints.single(running.base_url),
    )
    queries: list[Query] = []
    try:
        for v in range(VAULTS):
            group = ids[v * per_vault : (v + 1) * per_vault]
            vault = await cbr.create_vault(
                VaultCreate(
                    name=f"poll-{v}",
                    billing=BillingCreate(object_type="server", size=100_000),
                    resources=[ResourceRef(id=s, type=SERVER_TYPE) for s in group],
                )
            )
            for chunk in range(0, per_vault, 50):
                made = await asyncio.gather(
                    *(
                        cbr.create_checkpoint(vault.id, CheckpointParameters(resources=[s]))
                        for s in group[chunk : chunk + 50]
                    )
                )
                queries += [(vault.id, c.id, since) for c in made]
    finally:
        await cbr.close()
    return queries


def counts(running: RunningEmulator) -> dict[str, int]:
    return {op: running.counters.requests_of(op) for op in CALLS}


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {op: after[op] - before[op] for op in CALLS if after[op] != before[op]}


async def poll_all(poller: Poller, queries: list[Query]) -> list[CheckpointStatus]:
    return list(await asyncio.gather(*(poller.checkpoint(T.project_id, T.region, *q) for q in queries)))


async def test_running_tasks_cost_two_task_listings(
    running: RunningEmulator, poller: Poller, in_flight: list[Query]
) -> None:
    before = counts(running)
    answers = await poll_all(poller, in_flight)
    assert delta(before, counts(running)) == {"list_op_logs": 2}  # waiting, running
    assert all(a.status == "protecting" for a in answers)
    assert all(len(a.backups) == 1 and a.backups[0].backup_id for a in answers)


async def test_ended_tasks_add_one_backup_listing_per_vault(
    running: RunningEmulator, poller: Poller, in_flight: list[Query]
) -> None:
    running.clock.advance(3600)  # longer than any task (base + size / rate)
    running.emulator.tick()
    before = counts(running)
    answers = await poll_all(poller, in_flight)
    assert delta(before, counts(running)) == {"list_op_logs": 2, "list_backups": VAULTS}
    assert all(a.status == "available" for a in answers)
    assert all(b.status == "available" and b.size_gb is not None for a in answers for b in a.backups)


async def test_a_vault_listing_reaches_its_oldest_wanted_checkpoints_in_one_page(
    running: RunningEmulator, poller: Poller, in_flight: list[Query]
) -> None:
    running.clock.advance(3600)
    running.emulator.tick()
    oldest = in_flight[:10]  # the last of their vault's newest-first listing of 200
    before = counts(running)
    answers = await poll_all(poller, oldest)
    # a first page sized for 10 checkpoints of up to 256 backups each reaches them at once
    assert delta(before, counts(running)) == {"list_op_logs": 2, "list_backups": 1}
    assert all(a.status == "available" and len(a.backups) == 1 for a in answers)


async def test_a_vault_listing_pages_on_until_its_oldest_wanted_checkpoint(
    running: RunningEmulator, poller: Poller, in_flight: list[Query]
) -> None:
    """Past the first page (256 for one checkpoint), pages of 1,000 until the checkpoint is seen."""
    vault, _, _ = in_flight[0]
    running.clock.advance(3600)  # the first backups end: their servers can be backed up again
    running.emulator.tick()
    cbr = CbrClient(
        region=T.region,
        project_id=T.project_id,
        auth=AkSkAuth(Credentials(T.access_key, T.secret_key)),
        endpoints=Endpoints.single(running.base_url),
    )
    try:  # 200 newer backups in the same vault: the oldest wanted one is the 400th, newest first
        checkpoint = await cbr.create_checkpoint(vault, CheckpointParameters())
    finally:
        await cbr.close()
    assert checkpoint.id
    running.clock.advance(3600)
    running.emulator.tick()
    before = counts(running)
    [answer] = await poll_all(poller, in_flight[:1])
    assert delta(before, counts(running)) == {"list_op_logs": 2, "list_backups": 2}
    assert answer.status == "available" and len(answer.backups) == 1


async def test_only_a_checkpoint_without_tasks_or_listed_backups_is_read_on_its_own(
    running: RunningEmulator, poller: Poller, in_flight: list[Query]
) -> None:
    vault, _, since = in_flight[0]
    before = counts(running)
    answers = await poll_all(poller, [*in_flight, (vault, "no-such-checkpoint", since)])
    # its vault's backup listing to the window's start (one page: a checkpoint has 256 backups at most),
    # then its own read
    assert delta(before, counts(running)) == {"list_op_logs": 2, "list_backups": 2}
    assert answers[-1] == CheckpointStatus("protecting", ())


async def test_the_tick_comes_sooner_once_tasks_end(
    running: RunningEmulator, poller: Poller, in_flight: list[Query]
) -> None:
    await poll_all(poller, in_flight[:10])  # running, progress 0: no estimate, back-off from the minimum
    running.clock.advance(3600)  # longer than any task (base + size / rate)
    running.emulator.tick()
    await poll_all(poller, in_flight[:10])  # ended: the minimum again
    assert poller.poll_delay(T.project_id, T.region) <= 0.1


async def test_a_watched_workflows_timed_poll_is_only_the_safety_net(
    poller: Poller, in_flight: list[Query]
) -> None:
    """The watch wakes the workflow when its tasks end: its own poll waits ``watched_poll_seconds``."""
    _, checkpoint, since = in_flight[0]
    workflow_id = uuid.uuid4()
    unwatched = poller.poll_delay(T.project_id, T.region, workflow_id)
    poller.watch(T.project_id, T.region, checkpoint, workflow_id, since)
    safety = WorkerSettings().watched_poll_seconds  # the fixture's poller keeps the default
    assert unwatched < safety <= poller.poll_delay(T.project_id, T.region, workflow_id)
    poller.unwatch(T.project_id, T.region, checkpoint)
    assert poller.poll_delay(T.project_id, T.region, workflow_id) == pytest.approx(unwatched, abs=0.5)
