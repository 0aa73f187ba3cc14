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
from private_services import PrivatePostgres, PrivateRabbit
from resilience_helpers import COMMANDS, SHARED_AMQP_URL, Run, make_settings

from orchestrator.emulator.config import EmulatorConfig
from orchestrator.emulator.server import RunningEmulator
from orchestrator.store import Store


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


@pytest.mark.parametrize("hard", [False, True], ids=["rabbitmqctl-stop", "sigkill"])
async def test_rabbitmq_restart_mid_run_loses_no_command_and_no_event(
    hard: bool,
    private_rabbit: PrivateRabbit,
    shared_dsn: str,
    emulator: RunningEmulator,
    emulator_config: EmulatorConfig,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="orchestrator")
    if private_rabbit.pid is None:  # an earlier test left it down
        await asyncio.to_thread(private_rabbit.start)
    settings = make_settings(shared_dsn, private_rabbit.url, emulator)
    starts = private_rabbit.started

    async def restart() -> None:
        await asyncio.to_thread(private_rabbit.restart, hard)

    async with Run(settings, emulator, emulator_config, commands=COMMANDS, tag="rmq") as run:
        await run.execute(restart, lambda: unfinished_in(shared_dsn))
        figures = await run.audit(redelivered_commands(caplog))

    print(f"\nRabbitMQ {'SIGKILL' if hard else 'stop'} + start: {figures.line()}")
    assert private_rabbit.started == starts + 1, "the broker was restarted once, during the run"
    assert figures.unfinished_at_restart > 0 and figures.sent_before_restart < COMMANDS


async def test_postgresql_restart_mid_run_loses_no_command_and_no_event(
    private_postgres: PrivatePostgres,
    private_dsn: str,
    emulator: RunningEmulator,
    emulator_config: EmulatorConfig,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="orchestrator")
    settings = make_settings(private_dsn, SHARED_AMQP_URL, emulator)
    starts = private_postgres.started

    async def restart() -> None:
        # an immediate stop is a crash for every client; stay down for a while, then recover
        await asyncio.to_thread(private_postgres.restart, 2.0)

    async with Run(settings, emulator, emulator_config, commands=COMMANDS, tag="pg") as run:
        await run.execute(restart, lambda: unfinished_in(private_dsn))
        figures = await run.audit(redelivered_commands(caplog))

    print(f"\nPostgreSQL stop -m immediate + start: {figures.line()}")
    assert private_postgres.started == starts + 1
    assert figures.unfinished_at_restart > 0 and figures.sent_before_restart < COMMANDS
