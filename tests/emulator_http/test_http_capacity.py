"""Backup capacity and the request-rate limit over HTTP: admin API, start options, faults, counters."""

from __future__ import annotations

import aiohttp
import pytest
from emulator_http_harness import ALICE, BOB, Http, assert_gateway_error, make_config, vault_request
from typer.testing import CliRunner

from cbr_emulator.clock import Clock
from cbr_emulator.config import EmulatorConfig, Progression
from cbr_emulator.rate_limit import RateLimit
from cbr_emulator.server import RunningEmulator, config_from_options, start_emulator
from orchestrator.cli import app

SLOW = Progression(base_seconds=60, gb_per_second=1e12, waiting_seconds=0)
ALICE_KEY = f"{ALICE.region}/{ALICE.project_id}"


@pytest.fixture
def config() -> EmulatorConfig:
    return make_config(progression=SLOW, backup_capacity=1)


async def _vault_of_servers(http: Http, running: RunningEmulator, count: int) -> tuple[str, list[str]]:
    inventory = running.emulator.world.project(ALICE.region, ALICE.project_id).inventory
    ids = list(inventory.servers)[:count]
    body = vault_request("fleet")
    body["vault"]["resources"] = [{"id": i, "type": "OS::Nova::Server"} for i in ids]
    answer = await http.signed("POST", "/vaults", json_body=body)
    assert answer.status == 200, answer.text
    return answer.json["vault"]["id"], ids


def _checkpoint(vault_id: str, resource_id: str) -> dict[str, object]:
    return {"checkpoint": {"vault_id": vault_id, "parameters": {"resources": [resource_id]}}}


async def _statuses(http: Http) -> dict[str, str]:
    answer = await http.signed("GET", "/operation-logs", query=[("operation_type", "backup")])
    assert answer.status == 200, answer.text
    return {log["extra_info"]["resource"]["id"]: log["status"] for log in answer.json["operation_logs"]}


async def test_capacity_is_read_and_changed_through_the_admin_api(
    http: Http, running: RunningEmulator
) -> None:
    vault_id, ids = await _vault_of_servers(http, running, 3)
    for resource_id in ids:
        assert (
            await http.signed("POST", "/checkpoints", json_body=_checkpoint(vault_id, resource_id))
        ).status == 200
    assert await _statuses(http) == dict(zip(ids, ["running", "waiting", "waiting"], strict=True))
    capacity = (await http.admin("GET", "capacity")).json
    assert capacity["backup_capacity"] == 1
    assert capacity["backup_tasks"][ALICE_KEY] == {"running": 1, "waiting": 2, "peak_running": 1}
    changed = await http.admin("PUT", "capacity", {"backup_capacity": None})
    assert changed.status == 200, changed.text
    assert changed.json["backup_tasks"][ALICE_KEY] == {"running": 3, "waiting": 0, "peak_running": 3}
    state = (await http.admin("GET", "state")).json["emulator"]
    assert state["backup_capacity"] is None
    project = next(p for p in state["projects"] if p["project_id"] == ALICE.project_id)
    assert project["backup_tasks"]["running"] == 3


async def test_bad_capacity_bodies_are_400(http: Http) -> None:
    for body in ({"backup_capacity": 0}, {}, {"backup_capacity": "many"}, {"backup_capacity": 2, "x": 1}):
        answer = await http.admin("PUT", "capacity", body)
        assert answer.status == 400, body
        assert answer.json["error_code"] == "EMULATOR.0400"
    assert (await http.admin("GET", "capacity")).json["backup_capacity"] == 1


async def test_resetting_the_counters_resets_the_peak(http: Http, running: RunningEmulator) -> None:
    vault_id, ids = await _vault_of_servers(http, running, 2)
    await http.admin("PUT", "capacity", {"backup_capacity": 2})
    for resource_id in ids:
        await http.signed("POST", "/checkpoints", json_body=_checkpoint(vault_id, resource_id))
    await _statuses(http)
    await http.admin("POST", "clock/advance", {"seconds": 60})
    await _statuses(http)
    assert (await http.admin("GET", "capacity")).json["backup_tasks"][ALICE_KEY]["peak_running"] == 2
    await http.admin("POST", "counters")
    assert (await http.admin("GET", "capacity")).json["backup_tasks"][ALICE_KEY]["peak_running"] == 0


async def test_a_timed_out_create_checkpoint_still_takes_a_slot(http: Http, running: RunningEmulator) -> None:
    vault_id, (first, second) = await _vault_of_servers(http, running, 2)
    rule = {
        "operation": "create_checkpoint",
        "timeout_probability": 1.0,
        "hang_seconds": 0.1,
        "max_faults": 1,
    }
    assert (await http.admin("PUT", "faults", {"seed": 1, "rules": [rule]})).status == 200
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await http.signed("POST", "/checkpoints", json_body=_checkpoint(vault_id, first))
    answer = await http.signed("POST", "/checkpoints", json_body=_checkpoint(vault_id, second))
    assert answer.status == 200, answer.text
    assert await _statuses(http) == {first: "running", second: "waiting"}
    await http.admin("POST", "clock/advance", {"seconds": 60})
    assert await _statuses(http) == {first: "success", second: "running"}


async def test_rate_limit_given_at_start_throttles_per_project_and_is_counted(
    session: aiohttp.ClientSession,
) -> None:
    config = make_config(rate_limit=RateLimit(requests_per_second=0.01, burst=2))
    async with await start_emulator(config, clock=Clock(manual=True)) as running:
        http = Http(session, running.base_url)
        statuses = [(await http.signed("GET", "/vaults")).status for _ in range(3)]
        other = await http.signed("GET", "/vaults", tenant=BOB)
        snapshot = running.counters.snapshot()
        limit = (await http.admin("GET", "rate-limit")).json
    assert statuses == [200, 200, 429]
    assert other.status == 200
    assert snapshot["throttled_by_project"] == {ALICE.project_id: {"total": 1, "rate_limit": 1}}
    assert limit == {"requests_per_second": 0.01, "burst": 2}


async def test_throttle_faults_are_counted_per_project(http: Http, running: RunningEmulator) -> None:
    rule = {"throttle_probability": 1.0, "project_id": BOB.project_id}
    assert (await http.admin("PUT", "faults", {"seed": 1, "rules": [rule]})).status == 200
    assert_gateway_error(await http.signed("GET", "/vaults", tenant=BOB), 429, "APIG.0308")
    assert (await http.signed("GET", "/vaults")).status == 200
    assert running.counters.snapshot()["throttled_by_project"] == {BOB.project_id: {"total": 1, "fault": 1}}


def test_start_options_become_the_config() -> None:
    config = config_from_options(backup_capacity=200, rate_limit=RateLimit(requests_per_second=20, burst=20))
    assert (config.backup_capacity, config.rate_limit.requests_per_second, config.rate_limit.burst) == (
        200,
        20,
        20,
    )
    assert config_from_options().backup_capacity is None
    assert config_from_options().rate_limit.requests_per_second is None


def test_cli_refuses_bad_capacity_and_rate_options() -> None:
    runner = CliRunner()
    for options in (
        ["--backup-capacity", "0"],
        ["--rate-limit", "-1"],
        ["--rate-limit", "5", "--burst", "0"],
    ):
        result = runner.invoke(app, ["emulator", "--port", "0", *options])
        assert result.exit_code == 2, (options, result.output)
    help_text = runner.invoke(app, ["emulator", "--help"]).output
    assert "--backup-capacity" in help_text and "--rate-limit" in help_text and "--burst" in help_text
