"""``cbr-emulator`` runs the emulator on its own with the options of ``cbr-orchestrator emulator``; without
the ``emulator`` extra, every command that starts an emulator ends with one line naming what to install,
while the worker needs none of it."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import aiohttp
import pytest

from cbr_emulator.cli import EXTRA_MODULES, INSTALL_EXTRA

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = str(Path(sys.executable).with_name("cbr-emulator"))
WITHOUT_DATEUTIL = "import sys; sys.modules['dateutil'] = None; sys.argv[0] = 'cli'; "
EMULATOR_COMMANDS = ("emulator", "demo", "tour", "bench", "soak")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(args, capture_output=True, text=True, timeout=60, env=environment)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def option_names(help_text: str) -> list[str]:
    return re.findall(r"^\s+(--[a-z-]+)", help_text, re.MULTILINE)


@pytest.mark.parametrize("command", [(SCRIPT,), (sys.executable, "-m", "cbr_emulator")])
def test_the_emulator_command_has_the_options_of_cbr_orchestrator_emulator(command: tuple[str, ...]) -> None:
    alone = run(*command, "--help")
    within = run(sys.executable, "-m", "orchestrator.cli", "emulator", "--help")
    assert alone.returncode == 0, alone.stderr
    assert "Run the CBR emulator until interrupted." in alone.stdout
    assert option_names(alone.stdout) == option_names(within.stdout)
    assert "--tenants" in option_names(alone.stdout)


async def test_cbr_emulator_serves_on_the_port_it_is_given_until_terminated() -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        SCRIPT, "--port", str(port), "--servers", "3", "--disks", "0", stderr=asyncio.subprocess.PIPE
    )
    try:
        inventory = await asyncio.wait_for(first_answer(f"http://127.0.0.1:{port}/_emulator/inventory"), 30)
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 30)
    assert [len(project["servers"]) for project in inventory["projects"]] == [3]
    assert process.returncode == 0
    assert f"CBR emulator listening on http://127.0.0.1:{port}" in err.decode()


async def first_answer(url: str) -> dict[str, list[dict[str, list[object]]]]:
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(url) as response:
                    response.raise_for_status()
                    answer: dict[str, list[dict[str, list[object]]]] = await response.json()
                    return answer
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.2)


@pytest.mark.parametrize("command", EMULATOR_COMMANDS)
def test_a_command_that_starts_the_emulator_names_the_missing_extra(command: str) -> None:
    cli = WITHOUT_DATEUTIL + "from orchestrator.cli import main; main()"
    ended = run(sys.executable, "-c", cli, command)
    assert ended.returncode == 1
    assert ended.stderr.strip().splitlines() == [
        f"the CBR emulator needs python-dateutil, which is not installed: {INSTALL_EXTRA}"
    ]


def test_cbr_emulator_names_the_missing_extra() -> None:
    ended = run(sys.executable, "-c", WITHOUT_DATEUTIL + "from cbr_emulator.cli import main; main()")
    assert (ended.returncode, ended.stderr.count("\n")) == (1, 1)
    assert INSTALL_EXTRA in ended.stderr


def test_the_worker_runs_without_the_emulator_extra() -> None:
    probe = (
        WITHOUT_DATEUTIL
        + "import orchestrator.worker; from orchestrator.cli import main; "
        + "assert not any(m.startswith('cbr_emulator.') and m != 'cbr_emulator.cli' for m in sys.modules); "
        + "main()"
    )
    help_shown = run(sys.executable, "-c", probe, "worker", "--help")
    assert help_shown.returncode == 0, help_shown.stderr
    assert "CBR_ORCH_AMQP_URL" in help_shown.stdout


def test_the_extra_modules_are_the_emulator_extra_of_pyproject() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    named = {re.split(r"[<>=!~\[ ;]", requirement)[0] for requirement in extras["emulator"]}
    assert named == set(EXTRA_MODULES.values())
    assert "cbr-orchestrator[emulator]" in extras["test"]
