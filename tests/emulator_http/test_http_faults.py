"""Injected faults over real HTTP, and the deterministic fault engine itself."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
import pytest
from emulator_http_harness import (
    ALICE,
    BOB,
    Http,
    assert_cbr_error,
    assert_gateway_error,
    make_config,
    vault_request,
)

from cbr_emulator.clock import Clock
from cbr_emulator.faults import FaultPlan, FaultPlanError, FaultRule, Faults, load_fault_plan
from cbr_emulator.server import RunningEmulator, start_emulator


async def _set_faults(http: Http, *rules: dict[str, object], seed: int = 1) -> None:
    answer = await http.admin("PUT", "faults", {"seed": seed, "rules": list(rules)})
    assert answer.status == 200, answer.text


async def _vault_names(http: Http) -> list[str]:
    answer = await http.signed("GET", "/vaults")
    assert answer.status == 200, answer.text
    return [vault["name"] for vault in answer.json["vaults"]]


async def test_error_fault_answers_a_cbr_error_and_executes_nothing(
    http: Http, running: RunningEmulator
) -> None:
    await _set_faults(http, {"operation": "create_vault", "error_probability": 1.0})
    answer = await http.signed("POST", "/vaults", json_body=vault_request("never"))
    assert_cbr_error(answer, 500, "BackupService.9910")
    assert await _vault_names(http) == []
    assert running.counters.snapshot()["faults"]["by_kind"] == {"error": 1}


async def test_busy_error_fault_with_custom_status_and_code(http: Http) -> None:
    rule = {"error_probability": 1.0, "error_status": 400, "error_code": "BackupService.6125"}
    await _set_faults(http, rule)
    answer = await http.signed("GET", "/vaults")
    body = assert_cbr_error(answer, 400, "BackupService.6125")
    assert body["error_msg"] == "A backup task is in progress."


async def test_throttle_fault_is_429_with_retry_after(http: Http, running: RunningEmulator) -> None:
    await _set_faults(http, {"throttle_probability": 1.0, "retry_after_seconds": 2.5})
    answer = await http.signed("GET", "/vaults")
    body = assert_gateway_error(answer, 429, "APIG.0308")
    assert body["error_msg"].startswith("The request is throttled")
    assert answer.headers["Retry-After"] == "3"
    assert running.counters.snapshot()["throttled"] == {"total": 1, "fault": 1}


async def test_latency_fault_delays_the_answer(http: Http) -> None:
    await _set_faults(http, {"operation": "list_vault", "latency_seconds": 0.4, "latency_probability": 1.0})
    started = time.monotonic()
    answer = await http.signed("GET", "/vaults")
    assert answer.status == 200, answer.text
    assert time.monotonic() - started >= 0.4


def test_latency_probability_defaults_to_zero_like_every_probability() -> None:
    rule = FaultRule(latency_seconds=5)
    probabilities = {n: value for n, value in rule.model_dump().items() if n.endswith("_probability")}
    assert set(probabilities.values()) == {0.0}, probabilities
    decision = Faults(FaultPlan(rules=[rule])).decide("list_vault", "r", "p")
    assert (decision.latency, decision.kinds) == (0.0, [])


async def test_rules_match_by_operation_and_region(http: Http) -> None:
    await _set_faults(
        http,
        {"operation": "show_summary", "error_probability": 1.0},
        {"region": BOB.region, "error_probability": 1.0},
    )
    assert (await http.signed("GET", "/vaults")).status == 200
    assert (await http.signed("GET", "/vaults/summary")).status == 500
    assert (await http.signed("GET", "/vaults", tenant=BOB)).status == 500


async def test_execute_then_timeout_creates_the_vault_but_never_answers(http: Http) -> None:
    await _set_faults(http, {"operation": "create_vault", "timeout_probability": 1.0, "hang_seconds": 30})
    with pytest.raises(asyncio.TimeoutError):
        await http.signed("POST", "/vaults", json_body=vault_request("ghost"), wait=0.5)
    await http.admin("DELETE", "faults")
    assert await _vault_names(http) == ["ghost"]


async def test_execute_then_timeout_closes_the_connection_without_a_response(
    http: Http, running: RunningEmulator
) -> None:
    await _set_faults(http, {"operation": "create_vault", "timeout_probability": 1.0, "hang_seconds": 0.2})
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await http.signed("POST", "/vaults", json_body=vault_request("cut"), wait=5)
    counters = running.counters.snapshot()
    assert counters["responses"] == {"no_response": 1}
    assert counters["faults"]["by_kind"] == {"timeout": 1}


async def test_error_after_execute_creates_the_vault_and_answers_a_gateway_timeout(
    http: Http, running: RunningEmulator
) -> None:
    await _set_faults(http, {"operation": "create_vault", "error_after_execute_probability": 1.0})
    answer = await http.signed("POST", "/vaults", json_body=vault_request("executed"))
    body = assert_gateway_error(answer, 504, "APIG.0201")
    assert body["error_msg"] == "Backend timeout."
    assert await _vault_names(http) == ["executed"]
    counters = running.counters.snapshot()
    assert counters["faults"]["by_kind"] == {"error_after_execute": 1}
    assert counters["faults"]["by_operation"] == {"create_vault": 1}
    assert counters["responses"] == {"200": 1, "504": 1}


async def test_error_after_execute_with_custom_status_code_and_message(http: Http) -> None:
    rule = {
        "operation": "create_vault",
        "error_after_execute_probability": 1.0,
        "error_after_execute_status": 502,
        "error_after_execute_code": "APIG.0202",
        "error_after_execute_message": "Backend unavailable.",
    }
    await _set_faults(http, rule)
    answer = await http.signed("POST", "/vaults", json_body=vault_request("also-executed"))
    body = assert_gateway_error(answer, 502, "APIG.0202")
    assert body["error_msg"] == "Backend unavailable."
    assert await _vault_names(http) == ["also-executed"]


async def test_error_after_execute_replaces_the_services_own_error(http: Http) -> None:
    await _set_faults(http, {"operation": "show_vault", "error_after_execute_probability": 1.0})
    answer = await http.signed("GET", "/vaults/00000000-0000-4000-8000-000000000000")
    assert_gateway_error(answer, 504, "APIG.0201")


@pytest.mark.parametrize(
    "field",
    [
        {"error_after_execute_probability": 1.5},
        {"error_after_execute_status": 404},
        {"error_after_execute_status": 600},
        {"error_after_execute_code": ""},
        {"error_after_execute_message": ""},
    ],
)
async def test_error_after_execute_rule_is_validated(http: Http, field: dict[str, object]) -> None:
    answer = await http.admin("PUT", "faults", {"rules": [field]})
    body = assert_gateway_error(answer, 400, "EMULATOR.0400")
    assert next(iter(field)) in body["error_msg"]
    assert (await http.admin("GET", "faults")).json["rules"] == []


async def test_close_cuts_a_held_connection_short(session: aiohttp.ClientSession) -> None:
    plan = FaultPlan(rules=[FaultRule(timeout_probability=1.0, hang_seconds=600)])
    running = await start_emulator(make_config(), clock=Clock(manual=True), faults=plan)
    http = Http(session, running.base_url)
    held = asyncio.create_task(http.signed("POST", "/vaults", json_body=vault_request("held")))
    await asyncio.sleep(0.3)
    started = time.monotonic()
    await running.close()
    await running.close()
    assert time.monotonic() - started < 3
    with pytest.raises(aiohttp.ClientError):
        await held


async def test_max_faults_retires_a_rule(http: Http) -> None:
    await _set_faults(http, {"error_probability": 1.0, "max_faults": 1})
    assert (await http.signed("GET", "/vaults")).status == 500
    assert (await http.signed("GET", "/vaults")).status == 200
    rules = (await http.admin("GET", "faults")).json["rules"]
    assert rules[0]["fired"] == 1


async def test_faults_given_at_start(session: aiohttp.ClientSession) -> None:
    plan = FaultPlan(rules=[FaultRule(operation="list_vault", error_probability=1.0, error_status=503)])
    async with await start_emulator(make_config(), clock=Clock(manual=True), faults=plan) as running:
        answer = await Http(session, running.base_url).signed("GET", "/vaults")
    assert_cbr_error(answer, 503, "BackupService.9910")


def _outcomes(plan: FaultPlan, count: int) -> list[str]:
    faults = Faults(plan)
    return [",".join(faults.decide("list_vault", ALICE.region, ALICE.project_id).kinds) for _ in range(count)]


def test_rolls_are_deterministic_for_a_seed() -> None:
    rule = FaultRule(
        error_probability=0.3, throttle_probability=0.3, latency_seconds=1, latency_probability=0.5
    )
    first = _outcomes(FaultPlan(seed=7, rules=[rule]), 200)
    assert first == _outcomes(FaultPlan(seed=7, rules=[rule]), 200)
    assert first != _outcomes(FaultPlan(seed=8, rules=[rule]), 200)
    assert {"error", "throttle", "latency", "", "latency,error", "latency,throttle"} == set(first)


def test_error_after_execute_is_rolled_after_the_other_kinds() -> None:
    rule = FaultRule(
        throttle_probability=0.25,
        error_probability=0.25,
        timeout_probability=0.25,
        error_after_execute_probability=1.0,
    )
    kinds = _outcomes(FaultPlan(seed=5, rules=[rule]), 400)
    assert {"throttle", "error", "timeout", "error_after_execute"} == set(kinds)
    assert 0.35 < kinds.count("error_after_execute") / 400 < 0.5  # 0.75 ** 3 of the requests


def test_replace_restarts_the_sequence() -> None:
    plan = FaultPlan(seed=3, rules=[FaultRule(error_probability=0.5)])
    faults = Faults(plan)
    first = [faults.decide("x", "r", "p").error is not None for _ in range(50)]
    faults.replace(plan)
    assert first == [faults.decide("x", "r", "p").error is not None for _ in range(50)]


def test_fault_plan_file(tmp_path: Path) -> None:
    path = tmp_path / "faults.json"
    path.write_text(json.dumps([{"operation": "create_checkpoint", "timeout_probability": 1}]))
    plan = load_fault_plan(path)
    assert plan.rules[0].operation == "create_checkpoint"
    assert plan.rules[0].hang_seconds == 60
    path.write_text(json.dumps([{"operation": "create_checkpoint", "error_after_execute_probability": 1}]))
    rule = load_fault_plan(path).rules[0]
    assert (rule.error_after_execute_status, rule.error_after_execute_code) == (504, "APIG.0201")
    path.write_text(json.dumps({"rules": [{"error_probability": 2}]}))
    with pytest.raises(FaultPlanError):
        load_fault_plan(path)
