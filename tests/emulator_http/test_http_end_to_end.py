"""Signed HTTP all the way into the domain: path and query decoding, empty answers, background time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from emulator_http_harness import Http, assert_gateway_error, make_config, vault_request

from cbr_emulator.clock import Clock
from cbr_emulator.config import Progression
from cbr_emulator.dispatch import HANDLERS
from cbr_emulator.server import RunningEmulator, start_emulator


async def _create_vault(http: Http, name: str, resources: list[dict[str, str]] | None = None) -> str:
    body = vault_request(name)
    body["vault"]["resources"] = resources or []
    answer = await http.signed("POST", "/vaults", json_body=body)
    assert answer.status == 200, answer.text
    vault_id: str = answer.json["vault"]["id"]
    return vault_id


async def test_encoded_path_parameter_reaches_the_domain_decoded(http: Http) -> None:
    vault_id = await _create_vault(http, "tags")
    key = "成本_中心-1"
    created = await http.signed(
        "POST", f"/vault/{vault_id}/tags", json_body={"tag": {"key": key, "value": "v"}}
    )
    assert created.status == 204, created.text
    assert created.text == ""
    deleted = await http.signed("DELETE", f"/vault/{vault_id}/tags/{quote(key, safe='')}")
    assert deleted.status == 204, deleted.text
    tags = await http.signed("GET", f"/vault/{vault_id}/tags")
    assert tags.json["tags"] == []


async def test_encoded_slash_stays_inside_its_parameter(http: Http) -> None:
    vault_id = await _create_vault(http, "slash")
    answer = await http.signed("DELETE", f"/vault/{vault_id}/tags/a%2Fb")
    assert answer.status == 404, answer.text
    assert answer.json["error_code"] == "BackupService.6601"  # the tag "a/b", not an unknown path


async def test_query_values_are_decoded(http: Http) -> None:
    await _create_vault(http, "备份_one")
    await _create_vault(http, "other")
    answer = await http.signed("GET", "/vaults", query=[("name", "备份_one"), ("limit", "5")])
    assert answer.status == 200, answer.text
    assert [vault["name"] for vault in answer.json["vaults"]] == ["备份_one"]


async def test_delete_answers_204_without_a_body(http: Http) -> None:
    vault_id = await _create_vault(http, "short_lived")
    answer = await http.signed("DELETE", f"/vaults/{vault_id}")
    assert answer.status == 204
    assert answer.text == ""
    assert "X-Request-Id" in answer.headers


async def test_a_routed_operation_without_a_handler_is_404_apigw_0101(
    http: Http, running: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(HANDLERS, "list_vault")
    answer = assert_gateway_error(await http.signed("GET", "/vaults"), 404, "APIGW.0101")
    assert answer["error_msg"] == "The API does not exist or has not been published in the environment"
    assert running.counters.snapshot()["responses"] == {"404": 1}


@pytest.fixture
async def quick(session: aiohttp.ClientSession) -> AsyncIterator[tuple[Http, RunningEmulator]]:
    progression = Progression(base_seconds=0.3, waiting_seconds=0, gb_per_second=10_000)
    config = make_config(progression=progression)
    async with await start_emulator(config, clock=Clock(manual=False)) as running:
        yield Http(session, running.base_url), running


async def _first_server(http: Http) -> dict[str, Any]:
    answer = await http.signed("GET", "/protectables/server/instances", query=[("limit", "1")])
    assert answer.status == 200, answer.text
    server: dict[str, Any] = answer.json["instances"][0]
    return server


async def test_background_ticks_finish_tasks_without_requests(quick: tuple[Http, RunningEmulator]) -> None:
    http, running = quick
    server = await _first_server(http)
    vault_id = await _create_vault(http, "ticking", [{"id": server["id"], "type": server["type"]}])
    answer = await http.signed("POST", "/checkpoints", json_body={"checkpoint": {"vault_id": vault_id}})
    assert answer.status == 200, answer.text
    assert running.emulator.describe()["running_tasks"] == 1
    for _ in range(50):  # no request in between: only the background ticker moves time
        if running.emulator.describe()["running_tasks"] == 0:
            break
        await asyncio.sleep(0.1)
    assert running.emulator.describe()["running_tasks"] == 0
    logs = await http.signed("GET", "/operation-logs", query=[("vault_id", vault_id)])
    assert [log["status"] for log in logs.json["operation_logs"]] == ["success"]
