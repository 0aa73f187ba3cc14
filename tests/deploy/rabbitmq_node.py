"""A RabbitMQ node of its own for tests/deploy, booted as deploy/compose.yaml boots RabbitMQ: the
configuration of deploy/rabbitmq, the definitions rendered with passwords by ``render_definitions.py``
(the definitions' path the only change). It runs Debian's RabbitMQ of this machine, on free ports, with
its own Erlang cookie, and is stopped at the end."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RABBITMQ = REPO / "deploy" / "rabbitmq"
DEFINITIONS = RABBITMQ / "definitions.json"
RENDER = RABBITMQ / "render_definitions.py"
COMPOSE_DEFINITIONS_PATH = "/etc/rabbitmq/definitions/definitions.json"
# Debian's scripts themselves, not the wrappers of /usr/sbin that switch to the rabbitmq user
RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")


def template() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DEFINITIONS.read_text())
    return loaded


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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Node:
    name: str
    port: int
    passwords: dict[str, str]
    environment: dict[str, str]

    def ctl(self, *args: str) -> str:
        command = [str(RABBITMQ_BIN / "rabbitmqctl"), "-q", "-n", self.name, *args]
        done = subprocess.run(command, env=self.environment, capture_output=True, text=True, timeout=90)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def url(self, user: str, password: str | None = None) -> str:
        secret = self.passwords[user] if password is None else password
        return f"amqp://{user}:{secret}@127.0.0.1:{self.port}/cbr"


def node_environment(folder: Path, name: str, port: int) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(folder),  # its own Erlang cookie
        "RABBITMQ_NODENAME": name,
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(free_port()),
        "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq.conf"),
        "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
        "RABBITMQ_LOG_BASE": str(folder / "log"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
        "RABBITMQ_PID_FILE": str(folder / "rabbitmq.pid"),
    }


@contextlib.contextmanager
def booted_node(folder: Path) -> Iterator[Node]:
    """A node booted as compose boots RabbitMQ: the configuration of this folder, the definitions rendered
    with the passwords, the definitions' path the only change."""
    assert (RABBITMQ_BIN / "rabbitmq-server").exists(), "RabbitMQ's server is not installed here"
    passwords = {user["name"]: uuid.uuid4().hex for user in template()["users"]}
    done = render(template(), passwords, folder)
    assert done.returncode == 0, done.stderr
    config = (RABBITMQ / "rabbitmq.conf").read_text()
    assert COMPOSE_DEFINITIONS_PATH in config
    (folder / "rabbitmq.conf").write_text(
        config.replace(COMPOSE_DEFINITIONS_PATH, str(folder / "definitions.json"))
    )
    (folder / "enabled_plugins").write_text("[].\n")
    name = f"cbro-deploy-{uuid.uuid4().hex[:8]}@localhost"
    port = free_port()
    started = Node(name, port, passwords, node_environment(folder, name, port))
    server = [str(RABBITMQ_BIN / "rabbitmq-server"), "-detached"]
    subprocess.run(server, env=started.environment, check=True, capture_output=True, timeout=60)
    try:
        # -detached returns before the node runs: wait for its pid file, then for RabbitMQ in it
        started.ctl("wait", "--timeout", "90", started.environment["RABBITMQ_PID_FILE"])
        yield started
    finally:
        started.ctl("stop")
