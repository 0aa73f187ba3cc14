"""RabbitMQ and PostgreSQL each restarted during a run lose no command and no event (issue 3).

Each test sends a batch of backup commands through a real worker and restarts one real service (a private
instance: the machine's shared ones are never touched) while the batch is under way: some commands are
sent, some workflows are polling CBR and some events are out. Then it checks that every command became
exactly one workflow, every workflow succeeded, every final event reached a consumer (duplicates are
allowed, counted and reported), the outbox is empty, nothing was dead-lettered, and the emulator holds
exactly one checkpoint per command.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from resilience_helpers import (
    COMMANDS,
    SHARED_AMQP_URL,
    Figures,
    HeldCommand,
    Restart,
    Run,
    make_settings,
)

from cbr_emulator.config import EmulatorConfig
from cbr_emulator.server import RunningEmulator
from orchestrator.bench.soak.services import PrivatePostgres, PrivateRabbit
from orchestrator.store import Store

pytestmark = pytest.mark.resilience


def redelivered_commands(caplog: pytest.LogCaptureFixture) -> int:
    """Commands the intake saw again (a redelivery or a re-send) and recognised by their id."""
    return sum(
        1
        for r in caplog.records
        if r.name == "orchestrator.broker.intake" and r.getMessage().endswith("(duplicate)")
    )


async def unfinished_in(dsn: str) -> int:
    store = await Store.connect(dsn, max_size=1)
    try:
        return await store.unfinished_count()
    finally:
        await store.close()


def assert_mid_run(figures: Figures, restarts: int) -> None:
    """Each restart fell on a run under way: workflows unfinished (and, when paced, commands unsent)."""
    assert len(figures.restarts) == restarts
    for at in figures.restarts:
        assert at.unfinished > 0, f"{at.name} came after the work was done"
        assert 0 < at.finals < figures.commands


@pytest.mark.parametrize("hard", [False, True], ids=["rabbitmqctl-stop", "sigkill"])
async def test_rabbitmq_restart_mid_run_loses_no_command_and_no_event(
    hard: bool,
    rabbit: PrivateRabbit,
    shared_dsn: str,
    emulator: RunningEmulator,
    emulator_config: EmulatorConfig,
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
) -> None:
    """Beside workflows polling CBR and events on their way, the restart catches one command mid-intake:
    delivered, being committed, not yet acked."""
    caplog.set_level(logging.INFO, logger="orchestrator")
    settings = make_settings(shared_dsn, rabbit.url, emulator)
    starts = rabbit.started
    run = Run(settings, emulator, emulator_config, commands=COMMANDS, tag="rmq")
    held = HeldCommand(shared_dsn, run.commands[COMMANDS // 3 - 1])  # the last one sent before the restart

    async def restart() -> None:
        await held.waited_on()
        await asyncio.to_thread(rabbit.restart, hard)
        await held.release()

    name = "rabbitmq-sigkill" if hard else "rabbitmq-stop"
    async with held, run:
        await run.execute([Restart(name, restart)], lambda: unfinished_in(shared_dsn))
        figures = await run.audit(redelivered_commands(caplog))

    print(figures.report(request.node.name))
    assert rabbit.started == starts + 1, "the broker was restarted once, during the run"
    assert_mid_run(figures, 1)
    assert figures.restarts[0].sent < COMMANDS, "commands were still being sent"


async def test_postgresql_restart_mid_run_loses_no_command_and_no_event(
    private_postgres: PrivatePostgres,
    private_dsn: str,
    emulator: RunningEmulator,
    emulator_config: EmulatorConfig,
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
) -> None:
    caplog.set_level(logging.INFO, logger="orchestrator")
    settings = make_settings(private_dsn, SHARED_AMQP_URL, emulator)
    starts = private_postgres.started
    # an immediate stop is a crash for every client; the database stays down for 2 s, then recovers
    restart = Restart("postgresql-immediate", lambda: asyncio.to_thread(private_postgres.restart, 2.0))

    async with Run(settings, emulator, emulator_config, commands=COMMANDS, tag="pg") as run:
        await run.execute([restart], lambda: unfinished_in(private_dsn))
        figures = await run.audit(redelivered_commands(caplog))

    print(figures.report(request.node.name))
    assert private_postgres.started == starts + 1
    assert_mid_run(figures, 1)
    assert figures.restarts[0].sent < COMMANDS, "commands were still being sent"


async def test_draining_worker_survives_both_restarts_and_stops_when_done(
    rabbit: PrivateRabbit,
    private_postgres: PrivatePostgres,
    private_dsn: str,
    emulator: RunningEmulator,
    emulator_config: EmulatorConfig,
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
) -> None:
    """The demo's mode: the whole batch is queued first, and the worker stops by itself when it is done.

    Its "is there anything left?" check must neither crash nor answer wrongly while a service is away.
    """
    caplog.set_level(logging.INFO, logger="orchestrator")
    settings = make_settings(private_dsn, rabbit.url, emulator)
    settings = settings.model_copy(  # a few workflows at a time, so that the batch runs in waves
        update={"worker": settings.worker.model_copy(update={"concurrency": 8})}
    )
    restarts = [
        Restart("postgresql-immediate", lambda: asyncio.to_thread(private_postgres.restart, 1.0)),
        Restart("rabbitmq-sigkill", lambda: asyncio.to_thread(rabbit.restart, True)),
    ]

    async with Run(settings, emulator, emulator_config, commands=COMMANDS, tag="drain", drain=True) as run:
        await run.execute(restarts, lambda: unfinished_in(private_dsn))
        figures = await run.audit(redelivered_commands(caplog))

    print(figures.report(request.node.name))
    assert_mid_run(figures, 2)
