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
from pathlib import Path

import aiohttp
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = str(Path(sys.executable).with_name("cbr-emulator"))


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


def test_the_worker_imports_nothing_of_the_emulator() -> None:
    probe = (
        "import sys; sys.argv[0] = 'cli'; "
        + "import orchestrator.worker; from orchestrator.cli import main; "
        + "assert not any(m.startswith('cbr_emulator.') and m != 'cbr_emulator.cli' for m in sys.modules); "
        + "main()"
    )
    help_shown = run(sys.executable, "-c", probe, "worker", "--help")
    assert help_shown.returncode == 0, help_shown.stderr
    assert "CBR_ORCH_AMQP_URL" in help_shown.stdout
