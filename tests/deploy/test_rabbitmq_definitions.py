"""deploy/rabbitmq: the definitions RabbitMQ loads at boot, rendered with passwords by
``render_definitions.py`` and imported into the RabbitMQ of this machine (under a vhost and user names of
this run), then used the way the components use them: each user logs in with its password, the worker and a
publisher declare the topology with the application's own code (any argument that differs from the
definitions would fail the declaration), and the API's user may log in but touch nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from aio_pika.exceptions import ProbableAuthenticationError
from aiormq.exceptions import ChannelAccessRefused

from orchestrator.broker import declare_topology
from orchestrator.broker.publisher import publish_raw
from orchestrator.config import Names, WorkerSettings

REPO = Path(__file__).resolve().parents[2]
RABBITMQ = REPO / "deploy" / "rabbitmq"
DEFINITIONS = RABBITMQ / "definitions.json"
RENDER = RABBITMQ / "render_definitions.py"
AMQP_HOST = os.environ.get("CBR_TEST_AMQP_HOSTPORT", "127.0.0.1:5672")
RUN = uuid.uuid4().hex[:8]
NAMES = Names()
DELIVERY_LIMIT = WorkerSettings().delivery_limit


def template() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DEFINITIONS.read_text())
    return loaded


def rabbitmqctl(*args: str) -> str:
    command = [shutil.which("rabbitmqctl") or "rabbitmqctl", "-q", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def render(
    definitions: dict[str, Any], passwords: dict[str, str], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    source, secrets, output = tmp_path / "template.json", tmp_path / "secrets", tmp_path / "definitions.json"
    source.write_text(json.dumps(definitions))
    secrets.mkdir(exist_ok=True)
    for user, password in passwords.items():
        (secrets / f"rabbitmq_{user}_password").write_text(password + "\n")
    return subprocess.run(
        [sys.executable, RENDER, source, secrets, output], capture_output=True, text=True, timeout=30
    )


def of_this_run(definitions: dict[str, Any], vhost: str, prefix: str) -> dict[str, Any]:
    """The same definitions under another vhost and user names, so that the shared broker keeps apart."""
    text = json.dumps(definitions)
    for user in definitions["users"]:
        text = text.replace(f'"{user["name"]}"', f'"{prefix}{user["name"]}"')
    renamed: dict[str, Any] = json.loads(text.replace('"cbr"', f'"{vhost}"'))
    return renamed


def import_definitions(rendered: Path) -> None:
    """rabbitmqctl runs as RabbitMQ's user, who cannot read a test's folder (and this version does not
    read standard input): the file goes through a folder of its own that anyone may read."""
    with tempfile.TemporaryDirectory(prefix="cbro-definitions-") as folder:
        readable = Path(folder, "definitions.json")
        Path(folder).chmod(0o755)
        shutil.copyfile(rendered, readable)
        readable.chmod(0o644)
        rabbitmqctl("import_definitions", str(readable))


@dataclass(frozen=True)
class Imported:
    vhost: str
    prefix: str
    passwords: dict[str, str]

    def url(self, user: str, password: str | None = None) -> str:
        secret = self.passwords[user] if password is None else password
        return f"amqp://{self.prefix}{user}:{secret}@{AMQP_HOST}/{self.vhost}"


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Imported]:
    tmp_path = tmp_path_factory.mktemp("rabbitmq")
    vhost, prefix = f"cbro_deploy_{RUN}", f"cbro{RUN}-"
    definitions = of_this_run(template(), vhost, prefix)
    passwords = {user["name"][len(prefix) :]: uuid.uuid4().hex for user in definitions["users"]}
    done = render(definitions, {prefix + user: password for user, password in passwords.items()}, tmp_path)
    assert done.returncode == 0, done.stderr
    import_definitions(tmp_path / "definitions.json")
    try:
        yield Imported(vhost, prefix, passwords)
    finally:
        rabbitmqctl("delete_vhost", vhost)
        for user in passwords:
            rabbitmqctl("delete_user", prefix + user)


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


async def test_each_user_logs_in_with_its_password_only(imported: Imported) -> None:
    for user in imported.passwords:
        connection = await aio_pika.connect(imported.url(user))
        await connection.close()
    with pytest.raises(ProbableAuthenticationError):
        await aio_pika.connect(imported.url("worker", "not-the-password"))


async def test_the_worker_declares_the_topology_over_the_definitions(imported: Imported) -> None:
    connection = await aio_pika.connect(imported.url("worker"))
    async with connection:
        topology = await declare_topology(await connection.channel(), NAMES, DELIVERY_LIMIT)
        assert topology.commands.arguments is not None
    bindings = rabbitmqctl("list_bindings", "-p", imported.vhost, "source_name", "destination_name")
    assert bindings.count(f"{NAMES.dead_letter_exchange}\t{NAMES.dead_letter_queue}") == 1, bindings


async def test_a_command_published_reaches_the_worker_and_a_refusal_the_operator(imported: Imported) -> None:
    publisher = await aio_pika.connect(imported.url("publisher"))
    async with publisher:
        channel = await publisher.channel(publisher_confirms=True)
        await declare_topology(channel, NAMES, DELIVERY_LIMIT)
        await publish_raw(channel, NAMES, [b'{"kind": "not-a-command"}'])
    worker = await aio_pika.connect(imported.url("worker"))
    async with worker:
        channel = await worker.channel()
        queue = await channel.get_queue(NAMES.commands_queue)
        message = await queue.get(timeout=10)
        assert message is not None and message.body == b'{"kind": "not-a-command"}'
        await message.reject(requeue=False)  # a quorum queue dead-letters it to the exchange
    operator = await aio_pika.connect(imported.url("operator"))
    async with operator:
        channel = await operator.channel()
        dead = await (await channel.get_queue(NAMES.dead_letter_queue)).get(timeout=10, fail=False)
        assert dead is not None and dead.body == b'{"kind": "not-a-command"}'
        await dead.ack()


async def test_the_api_user_may_connect_but_not_declare(imported: Imported) -> None:
    connection = await aio_pika.connect(imported.url("api"))
    async with connection:
        with pytest.raises(ChannelAccessRefused):
            await declare_topology(await connection.channel(), NAMES, DELIVERY_LIMIT)
