"""`dead-letters list|show|replay` as an operator runs them, against a real worker and RabbitMQ: looking
never loses a message; a replay after the fix keeps the command id and starts the workflow; a replayed
command that was accepted before is a duplicate, not a second workflow, and leaves the queue."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aio_pika
import asyncpg
import pytest
from cli_runner import CliRun, run_cli
from quick_settings import AMQP_URL, emulator_settings

from cbr_emulator.config import DEFAULT_TENANT, EmulatorConfig, Progression
from cbr_emulator.inventory import build_inventory
from cbr_emulator.server import RunningEmulator, start_emulator
from orchestrator.broker import REASON_HEADER, delete_topology
from orchestrator.broker.probe import queue_counts
from orchestrator.config import Settings
from orchestrator.worker import run_worker

PROJECT, REGION = DEFAULT_TENANT.project_id, DEFAULT_TENANT.region
SERVER = next(iter(build_inventory(EmulatorConfig().inventory, REGION, PROJECT).servers))


def backup(command_id: str) -> dict[str, object]:
    return {
        "kind": "backup",
        "command_id": command_id,
        "project_id": PROJECT,
        "region": REGION,
        "vault": {"name": "dead-letters", "create": {"size_gb": 1000}},
        "resources": [{"id": SERVER}],
    }


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    running = await start_emulator(EmulatorConfig(progression=Progression.instantly()))
    yield running
    await running.close()


@pytest.fixture
async def settings(dsn: str, emulator: RunningEmulator) -> AsyncIterator[Settings]:
    chosen = emulator_settings(dsn, emulator.base_url, prefix=f"test.dlq.{uuid.uuid4().hex[:10]}")
    yield chosen
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        await delete_topology(await connection.channel(), chosen.names)


@asynccontextmanager
async def worker(settings: Settings) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(settings, stop))
    try:
        yield
    finally:
        stop.set()
        await task


async def dlq(settings: Settings, *args: str) -> CliRun:
    run = await run_cli(settings.database_url, "dead-letters", *args, env=settings.as_environment())
    assert "Traceback" not in run.stderr, run.stderr
    return run


async def waiting_in(settings: Settings, queue: str) -> int:
    counts = await queue_counts(settings, queue)
    assert counts is not None
    return counts.messages


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 20) -> None:
    for _ in range(int(seconds / 0.1)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {seconds} s")


async def workflow_status(dsn: str, command_id: str) -> str | None:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval("SELECT status FROM workflows WHERE command_id = $1", command_id)
    finally:
        await conn.close()


async def test_looking_loses_nothing_and_a_replay_after_the_fix_keeps_the_command_id(
    settings: Settings,
) -> None:
    command_id = f"dlq-{uuid.uuid4().hex[:8]}"
    without_credentials = settings.model_copy(update={"credentials": []})
    async with worker(without_credentials):
        submitted = await run_cli(
            settings.database_url,
            "submit",
            "--json",
            json.dumps(backup(command_id)),
            env=settings.as_environment(),
        )
        assert submitted.code == 0, submitted.stderr
        connection = await aio_pika.connect(AMQP_URL)
        async with connection:
            channel = await connection.channel()
            await channel.default_exchange.publish(
                aio_pika.Message(b"not json"), settings.names.commands_queue
            )

        async def both_dead_lettered() -> bool:
            return await waiting_in(settings, settings.names.dead_letter_queue) == 2

        await until(both_dead_lettered)

    for _ in range(3):  # every look gives every message back
        listed = await dlq(settings, "list", "--json")
        assert listed.code == 0
        letters = {letter["id"]: letter for letter in json.loads(listed.stdout)}
        assert len(letters) == 2
        assert await waiting_in(settings, settings.names.dead_letter_queue) == 2
    refused = letters[command_id]
    assert (refused["kind"], refused["command_id"], refused["project_id"]) == ("backup", command_id, PROJECT)
    assert "credentials" in refused["reason"]
    malformed = next(letter for letter in letters.values() if letter["id"] != command_id)
    assert "malformed: not JSON" in malformed["reason"] and malformed["command_id"] is None

    shown = await dlq(settings, "show", command_id, "--json")
    details = json.loads(shown.stdout)
    assert json.loads(details["body"])["command_id"] == command_id
    assert REASON_HEADER in details["headers"]
    assert (await dlq(settings, "show", "no-such-id")).code == 1
    table = await dlq(settings, "list")
    assert command_id in table.stdout and "2 dead letters" in table.stdout

    async with worker(settings):  # the fix: this worker has the project's credentials
        replayed = await dlq(settings, "replay", command_id)
        assert replayed.code == 0, replayed.stderr
        assert f"replayed {command_id} (backup)" in replayed.stdout

        async def succeeded() -> bool:
            return await workflow_status(settings.database_url, command_id) == "succeeded"

        await until(succeeded)
    assert await waiting_in(settings, settings.names.dead_letter_queue) == 1  # the malformed one stays
    again = await dlq(settings, "replay", command_id)
    assert again.code == 1 and "no dead letter with id" in again.stderr


async def test_a_replayed_command_accepted_before_is_a_duplicate_not_a_second_workflow(
    settings: Settings, emulator: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="orchestrator.broker.intake")
    command_id = f"dlq-dup-{uuid.uuid4().hex[:8]}"
    async with worker(settings):
        submitted = await run_cli(
            settings.database_url,
            "submit",
            "--json",
            json.dumps(backup(command_id)),
            env=settings.as_environment(),
        )
        assert submitted.code == 0, submitted.stderr

        async def succeeded() -> bool:
            return await workflow_status(settings.database_url, command_id) == "succeeded"

        await until(succeeded)
        # the same command dead-lettered as well (say a redelivered copy that outlived its delivery limit)
        connection = await aio_pika.connect(AMQP_URL)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(settings.names.dead_letter_exchange)
            copy = aio_pika.Message(
                json.dumps(backup(command_id)).encode(),
                message_id=command_id,
                headers={REASON_HEADER: "delivery limit"},
            )
            await exchange.publish(copy, routing_key="")

        replayed = await dlq(settings, "replay", "--all")
        assert replayed.code == 0 and "1 dead letters replayed" in replayed.stdout

        def intake_lines() -> list[str]:
            return [
                r.getMessage() for r in caplog.records if r.getMessage().startswith(f"command {command_id} ")
            ]

        async def seen_twice() -> bool:
            return len(intake_lines()) == 2

        await until(seen_twice)
    assert intake_lines()[1].endswith("(duplicate)")
    assert (
        await waiting_in(settings, settings.names.dead_letter_queue) == 0
    )  # not refused again as a conflict
    assert await waiting_in(settings, settings.names.commands_queue) == 0
    assert emulator.counters.requests_of("create_checkpoint") == 1
    assert await workflow_status(settings.database_url, command_id) == "succeeded"


async def test_a_broker_without_the_dead_letter_queue_is_said_in_one_line(settings: Settings) -> None:
    run = await dlq(settings, "list")
    assert run.code == 1
    assert f"no queue {settings.names.dead_letter_queue} (no worker has declared" in run.stderr
