"""The components of deploy/compose.yaml, each with its own RabbitMQ user, on a node booted with the
definitions: ``cbr-orchestrator migrate`` on an empty database, then a ``cbr-orchestrator worker`` process
as the user ``worker``. The user ``publisher`` submits a backup command and reads its final event on a
queue of its own bound to ``cbr.events``; a malformed command is dead-lettered by the worker with its
reason, and the user ``operator`` reads it there. Any permission missing from the definitions fails here.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aio_pika
import pytest
from cli_runner import run_cli
from pg_databases import database, unique_name
from quick_settings import emulator_settings
from rabbitmq_node import Node, booted_node

from cbr_emulator.config import DEFAULT_TENANT, EmulatorConfig, Progression
from cbr_emulator.inventory import build_inventory
from cbr_emulator.server import RunningEmulator, start_emulator
from orchestrator.broker import REASON_HEADER, publish_raw, submit
from orchestrator.config import Names, Settings
from orchestrator.messages import BackupCommand

NAMES = Names()  # the names the definitions declare, as the stack's workers use them
MALFORMED = b"{not json"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with booted_node(tmp_path_factory.mktemp("rabbitmq")) as booted:
        yield booted


@pytest.fixture
async def emulator() -> AsyncIterator[tuple[RunningEmulator, EmulatorConfig]]:
    config = EmulatorConfig(progression=Progression.instantly())
    async with await start_emulator(config) as running:
        yield running, config


def settings_of(user: str, node: Node, dsn: str, emulator: RunningEmulator) -> Settings:
    return emulator_settings(dsn, emulator.base_url, amqp_url=node.url(user), prefix=NAMES.prefix)


async def start_worker(settings: Settings, log: Path) -> asyncio.subprocess.Process:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CBR_ORCH_")}
    environment.update(settings.as_environment())
    with log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "orchestrator.cli", "worker", env=environment, stdout=out, stderr=out
        )


async def next_message(
    queue: aio_pika.abc.AbstractQueue, seconds: float
) -> aio_pika.abc.AbstractIncomingMessage:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        message = await queue.get(fail=False)
        if message is not None:
            await message.ack()
            return message
        await asyncio.sleep(0.1)
    raise AssertionError(f"nothing arrived in {queue.name} within {seconds} s")


async def test_worker_publisher_and_operator_work_with_their_own_users(
    node: Node, emulator: tuple[RunningEmulator, EmulatorConfig], tmp_path: Path
) -> None:
    running, config = emulator
    server = next(
        iter(build_inventory(config.inventory, DEFAULT_TENANT.region, DEFAULT_TENANT.project_id).servers)
    )
    async with database(unique_name("deploy")) as dsn:
        migrated = await run_cli(dsn, "migrate")
        assert migrated.code == 0, migrated.stderr
        worker = await start_worker(settings_of("worker", node, dsn, running), tmp_path / "worker.log")
        try:
            publisher = await aio_pika.connect(node.url("publisher"))
            async with publisher:
                channel = await publisher.channel()
                events = await channel.declare_queue(exclusive=True)
                await events.bind(NAMES.events_exchange, routing_key="workflow.backup.*")
                command = BackupCommand.model_validate(
                    {
                        "command_id": "deploy-1",
                        "project_id": DEFAULT_TENANT.project_id,
                        "region": DEFAULT_TENANT.region,
                        "vault": {"name": "deploy", "create": {"size_gb": 1000}},
                        "resources": [{"id": server}],
                    }
                )
                await submit(settings_of("publisher", node, dsn, running), command)
                event = json.loads((await next_message(events, 60)).body)
                assert (event["data"]["command_id"], event["data"]["outcome"]) == ("deploy-1", "succeeded")
                await publish_raw(await publisher.channel(publisher_confirms=True), NAMES, [MALFORMED])
            operator = await aio_pika.connect(node.url("operator"))
            async with operator:
                dead_letters = await (await operator.channel()).get_queue(NAMES.dead_letter_queue)
                dead = await next_message(dead_letters, 30)
                assert dead.body == MALFORMED and str(dead.headers[REASON_HEADER]).startswith("malformed")
        finally:
            worker.terminate()
            await asyncio.wait_for(worker.wait(), 60)
        log = (tmp_path / "worker.log").read_text()
        assert "ACCESS_REFUSED" not in log and "access_refused" not in log.lower(), log
