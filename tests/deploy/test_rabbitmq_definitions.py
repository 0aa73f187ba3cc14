"""deploy/rabbitmq: a RabbitMQ node of its own, booted here with ``rabbitmq.conf`` and the definitions that
``render_definitions.py`` wrote with passwords (as compose does), then used the way the components use it:
no ``guest`` and no other vhost, each user logs in with its password, the worker and a publisher declare
the topology with the application's own code (an argument differing from the definitions would fail the
declaration), a refused command reaches the operator through the dead-letter exchange, and the API's user
may log in but touch nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import aio_pika
import pytest
from aio_pika.exceptions import ProbableAuthenticationError
from aiormq.exceptions import ChannelAccessRefused
from rabbitmq_node import Node, booted_node, render, template

from orchestrator.broker import declare_topology
from orchestrator.broker.publisher import publish_raw
from orchestrator.config import Names, WorkerSettings

NAMES = Names()
DELIVERY_LIMIT = WorkerSettings().delivery_limit
COMMAND = b'{"kind": "not-a-command"}'


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with booted_node(tmp_path_factory.mktemp("rabbitmq")) as booted:
        yield booted


def test_no_guest_and_every_user_only_in_the_vhost_cbr() -> None:
    definitions = template()
    users = {user["name"] for user in definitions["users"]}
    assert "guest" not in users and {"worker", "api"} <= users
    assert [v["name"] for v in definitions["vhosts"]] == ["cbr"]
    assert sorted(p["user"] for p in definitions["permissions"]) == sorted(users)
    assert {p["vhost"] for p in definitions["permissions"]} == {"cbr"}
    assert not any("password" in key for user in definitions["users"] for key in user), "hashes come at start"


def test_the_queues_and_exchanges_are_the_ones_the_worker_declares() -> None:
    definitions = template()
    queues = {q["name"]: q["arguments"] for q in definitions["queues"]}
    assert queues == {
        NAMES.commands_queue: {
            "x-queue-type": "quorum",
            "x-delivery-limit": DELIVERY_LIMIT,
            "x-dead-letter-exchange": NAMES.dead_letter_exchange,
        },
        NAMES.dead_letter_queue: {"x-queue-type": "quorum"},
    }
    exchanges = {e["name"]: e["type"] for e in definitions["exchanges"]}
    assert exchanges == {NAMES.dead_letter_exchange: "fanout", NAMES.events_exchange: "topic"}


def test_the_render_fails_on_a_missing_password_and_names_the_file_only(tmp_path: Path) -> None:
    done = render(template(), {"worker": "a-secret-value"}, tmp_path)
    assert done.returncode != 0
    assert "rabbitmq_api_password" in done.stderr and "a-secret-value" not in done.stderr + done.stdout


def test_the_render_refuses_the_placeholder_of_the_example(tmp_path: Path) -> None:
    passwords = {user["name"]: uuid.uuid4().hex for user in template()["users"]}
    done = render(template(), {**passwords, "operator": "change-me"}, tmp_path)
    assert done.returncode != 0 and "'operator'" in done.stderr and "deploy/.env" in done.stderr


def test_the_render_stores_salted_hashes_and_no_password(tmp_path: Path) -> None:
    passwords = {user["name"]: uuid.uuid4().hex for user in template()["users"]}
    assert render(template(), passwords, tmp_path).returncode == 0
    rendered = (tmp_path / "definitions.json").read_text()
    assert not any(password in rendered for password in passwords.values())
    hashes = [user["password_hash"] for user in json.loads(rendered)["users"]]
    assert len(set(hashes)) == len(hashes) and all(len(h) == 48 for h in hashes)  # base64 of 4 + 32 bytes


def test_the_node_has_the_users_and_the_vhost_of_the_definitions_and_nothing_else(node: Node) -> None:
    users = {line.split("\t")[0] for line in node.ctl("list_users", "--no-table-headers").splitlines()}
    assert users == set(node.passwords)
    assert node.ctl("list_vhosts", "--no-table-headers").split() == ["cbr"]
    queues = node.ctl("list_queues", "-p", "cbr", "--no-table-headers", "name", "type").splitlines()
    assert sorted(queues) == sorted(
        f"{name}\tquorum" for name in (NAMES.commands_queue, NAMES.dead_letter_queue)
    )


async def test_each_user_logs_in_with_its_password_only(node: Node) -> None:
    for user in node.passwords:
        connection = await aio_pika.connect(node.url(user))
        await connection.close()
    with pytest.raises(ProbableAuthenticationError):
        await aio_pika.connect(node.url("worker", "not-the-password"))


async def test_the_worker_declares_the_topology_over_the_definitions(node: Node) -> None:
    connection = await aio_pika.connect(node.url("worker"))
    async with connection:
        topology = await declare_topology(await connection.channel(), NAMES, DELIVERY_LIMIT)
        assert topology.commands.arguments is not None
    bindings = node.ctl("list_bindings", "-p", "cbr", "source_name", "destination_name")
    assert bindings.count(f"{NAMES.dead_letter_exchange}\t{NAMES.dead_letter_queue}") == 1, bindings


async def test_a_command_published_reaches_the_worker_and_a_refusal_the_operator(node: Node) -> None:
    publisher = await aio_pika.connect(node.url("publisher"))
    async with publisher:
        channel = await publisher.channel(publisher_confirms=True)
        await declare_topology(channel, NAMES, DELIVERY_LIMIT)
        await publish_raw(channel, NAMES, [b'{"kind": "not-a-command"}'])
    worker = await aio_pika.connect(node.url("worker"))
    async with worker:
        channel = await worker.channel()
        queue = await channel.get_queue(NAMES.commands_queue)
        message = await queue.get(timeout=10)
        assert message is not None and message.body == b'{"kind": "not-a-command"}'
        await message.reject(requeue=False)  # a quorum queue dead-letters it to the exchange
    operator = await aio_pika.connect(node.url("operator"))
    async with operator:
        channel = await operator.channel()
        dead = await (await channel.get_queue(NAMES.dead_letter_queue)).get(timeout=10, fail=False)
        assert dead is not None and dead.body == b'{"kind": "not-a-command"}'
        await dead.ack()


async def test_the_api_user_may_connect_but_not_declare(node: Node) -> None:
    connection = await aio_pika.connect(node.url("api"))
    async with connection:
        with pytest.raises(ChannelAccessRefused):
            await declare_topology(await connection.channel(), NAMES, DELIVERY_LIMIT)
