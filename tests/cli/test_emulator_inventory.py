"""`cbr-orchestrator emulator-inventory`: a running emulator's servers and disks as a table or JSON,
waiting for an emulator that is starting, and a clear line when none answers."""

from __future__ import annotations

import asyncio
import json
import socket

from cli_runner import run_cli

from cbr_emulator.config import DEFAULT_TENANT, EmulatorConfig, Progression
from cbr_emulator.server import start_emulator

UNUSED_DB = "postgresql://unused/db"  # the command reads no database


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_the_table_lists_each_server_with_its_disks_and_the_json_is_the_endpoints() -> None:
    async with await start_emulator(EmulatorConfig(progression=Progression.instantly())) as running:
        expected = running.emulator.inventory()
        table = await run_cli(UNUSED_DB, "emulator-inventory", "--endpoint", running.base_url)
        as_json = await run_cli(UNUSED_DB, "emulator-inventory", "--endpoint", running.base_url, "--json")
    assert table.code == 0, table.stderr
    server = expected["projects"][0]["servers"][0]
    assert f"{DEFAULT_TENANT.region} / {DEFAULT_TENANT.project_id}" in table.stdout
    assert "20 servers, 10 standalone disks" in table.stdout
    for line_parts in ([server["name"], server["id"]], *([d["device"], d["id"]] for d in server["disks"])):
        assert any(all(part in line for part in line_parts) for line in table.stdout.splitlines()), line_parts
    assert as_json.code == 0, as_json.stderr
    assert json.loads(as_json.stdout) == expected


async def test_filters_reach_the_endpoint_and_one_matching_nothing_is_a_clear_error() -> None:
    async with await start_emulator(EmulatorConfig(progression=Progression.instantly())) as running:
        run = await run_cli(
            UNUSED_DB, "emulator-inventory", "--endpoint", running.base_url, "--region", "nope"
        )
    assert run.code == 1
    assert "answered 404: no tenant's project matches region nope" in run.stderr
    assert "Traceback" not in run.stderr


async def test_it_waits_for_an_emulator_that_is_starting() -> None:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    listing = asyncio.create_task(run_cli(UNUSED_DB, "emulator-inventory", "--endpoint", endpoint))
    await asyncio.sleep(1.5)  # the command is asking and finding nothing
    assert not listing.done()
    async with await start_emulator(EmulatorConfig(progression=Progression.instantly()), port=port):
        run = await asyncio.wait_for(listing, 30)
    assert run.code == 0, run.stderr
    assert "ecs-0001" in run.stdout


async def test_no_emulator_at_the_endpoint_is_one_clear_line() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    run = await run_cli(UNUSED_DB, "emulator-inventory", "--endpoint", endpoint, "--wait-seconds", "0.5")
    assert run.code == 1
    assert f"no emulator answers at {endpoint}" in run.stderr
    assert "Traceback" not in run.stderr
