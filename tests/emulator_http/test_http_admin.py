"""The admin API: state, faults, counters, clock, progression, rate limit, and input validation."""

from __future__ import annotations

from typing import Any

import pytest
from emulator_http_harness import ALICE, Http, assert_gateway_error

from cbr_emulator.config import Progression
from cbr_emulator.server import RunningEmulator


async def test_health(http: Http) -> None:
    answer = await http.admin("GET", "health")
    assert answer.status == 200
    assert answer.json["status"] == "ok"


async def test_state_shows_domain_counters_and_tenants_without_secrets(http: Http) -> None:
    await http.signed("GET", "/vaults")
    answer = await http.admin("GET", "state")
    assert answer.status == 200, answer.text
    state = answer.json
    assert set(state) == {"emulator", "clock", "tenants", "counters", "faults", "rate_limit"}
    assert state["clock"]["manual"] is True
    assert state["counters"]["requests"]["by_operation"] == {"list_vault": 1}
    assert {t["project_id"] for t in state["tenants"]} >= {ALICE.project_id}
    assert ALICE.secret_key not in answer.text
    assert ALICE.password not in answer.text


async def test_faults_put_get_delete(http: Http) -> None:
    plan = {"seed": 5, "rules": [{"operation": "create_vault", "error_probability": 0.5}]}
    put = await http.admin("PUT", "faults", plan)
    assert put.status == 200, put.text
    rules = (await http.admin("GET", "faults")).json["rules"]
    assert rules[0]["operation"] == "create_vault"
    assert rules[0]["error_probability"] == 0.5
    assert rules[0]["fired"] == 0
    deleted = await http.admin("DELETE", "faults")
    assert deleted.json["rules"] == []
    assert (await http.admin("GET", "faults")).json["rules"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"rules": [{"error_probability": 1.5}]},
        {"rules": [{"operation": "x", "surprise": True}]},
        {"rules": [{"error_status": 200}]},
        {"rules": "all"},
        [1, 2],
    ],
)
async def test_bad_fault_plans_are_400(http: Http, body: Any) -> None:
    answer = await http.admin("PUT", "faults", body)
    error = assert_gateway_error(answer, 400, "EMULATOR.0400")
    assert error["error_msg"].startswith("invalid body")
    assert (await http.admin("GET", "faults")).json["rules"] == []


async def test_malformed_admin_json_is_400(http: Http) -> None:
    headers = {"Content-Type": "application/json"}
    answer = await http.send("PUT", "/_emulator/faults", headers=headers, body=b"{nope")
    assert_gateway_error(answer, 400, "EMULATOR.0400")


async def test_counters_read_and_reset(http: Http) -> None:
    await http.signed("GET", "/vaults")
    await http.signed("GET", "/vaults/summary")
    await http.signed("GET", "/vaults", secret_key="wrong")
    counters = (await http.admin("GET", "counters")).json
    assert counters["requests"]["total"] == 2
    assert counters["requests"]["by_operation"] == {"list_vault": 1, "show_summary": 1}
    assert counters["requests"]["by_region"] == {ALICE.region: 2}
    assert counters["auth_failures"] == 1
    assert counters["responses"]["401"] == 1
    reset = await http.admin("POST", "counters")
    assert reset.json["requests"]["total"] == 2
    after = (await http.admin("GET", "counters")).json
    assert after["requests"]["total"] == 0
    assert after["responses"] == {}


async def test_counters_summarise_the_latency_of_every_cbr_answer(http: Http) -> None:
    plan = {"rules": [{"operation": "show_summary", "latency_seconds": 0.2, "latency_probability": 1.0}]}
    assert (await http.admin("PUT", "faults", plan)).status == 200
    await http.signed("GET", "/vaults")
    await http.signed("GET", "/vaults", secret_key="wrong")
    await http.signed("GET", "/vaults/summary")  # 200 ms late: the slowest of three
    await http.admin("GET", "state")  # the admin API is not counted
    latency = (await http.admin("GET", "counters")).json["latency"]
    assert latency["count"] == 3
    assert latency["p50_ms"] < 200 <= latency["max_ms"] == latency["p99_ms"]
    await http.admin("POST", "counters")
    assert (await http.admin("GET", "counters")).json["latency"]["count"] == 0


async def test_responses_are_counted_by_operation_and_status(http: Http) -> None:
    await http.signed("GET", "/vaults")
    await http.signed("GET", "/vaults")
    await http.signed("GET", "/vaults", secret_key="wrong")
    await http.signed("GET", "/vaults/" + "0" * 36)
    await http.signed("GET", "/no/such/api")
    counters = (await http.admin("GET", "counters")).json
    assert counters["responses_by_operation"] == {
        "list_vault": {"200": 2, "401": 1},
        "show_vault": {"404": 1},
        "unrouted": {"404": 1},
    }
    assert counters["responses"] == {"200": 2, "401": 1, "404": 2}
    await http.admin("POST", "counters")
    assert (await http.admin("GET", "counters")).json["responses_by_operation"] == {}


async def test_counters_reset_refuses_a_body(http: Http) -> None:
    answer = await http.admin("POST", "counters", {"everything": True})
    assert_gateway_error(answer, 400, "EMULATOR.0400")


async def test_clock_advance_moves_the_manual_clock(http: Http, running: RunningEmulator) -> None:
    before = running.clock.now()
    answer = await http.admin("POST", "clock/advance", {"seconds": 90})
    assert answer.status == 200, answer.text
    assert (running.clock.now() - before).total_seconds() == 90
    assert answer.json["manual"] is True


@pytest.mark.parametrize("body", [{"seconds": -1}, {"seconds": "soon"}, {}, None])
async def test_bad_clock_advance_is_400(http: Http, running: RunningEmulator, body: Any) -> None:
    before = running.clock.now()
    answer = await http.admin("POST", "clock/advance", body)
    assert_gateway_error(answer, 400, "EMULATOR.0400")
    assert running.clock.now() == before


async def test_progression_by_speed_and_by_fields(http: Http, running: RunningEmulator) -> None:
    answer = await http.admin("PUT", "progression", {"speed": "realistic"})
    assert answer.status == 200, answer.text
    assert answer.json["progression"] == Progression.realistic().model_dump()
    assert running.emulator.config.progression == Progression.realistic()
    answer = await http.admin("PUT", "progression", {"base_seconds": 5, "gb_per_second": 1})
    assert answer.json["progression"]["base_seconds"] == 5


@pytest.mark.parametrize("body", [{"speed": "warp"}, {"base_seconds": -1}, {"speed": "fast", "x": 1}])
async def test_bad_progression_is_400(http: Http, body: Any) -> None:
    assert_gateway_error(await http.admin("PUT", "progression", body), 400, "EMULATOR.0400")


async def test_rate_limit_get_and_put(http: Http) -> None:
    assert (await http.admin("GET", "rate-limit")).json == {"requests_per_second": None, "burst": 10}
    answer = await http.admin("PUT", "rate-limit", {"requests_per_second": 5, "burst": 2})
    assert answer.json == {"requests_per_second": 5.0, "burst": 2}
    bad = await http.admin("PUT", "rate-limit", {"requests_per_second": 0})
    assert_gateway_error(bad, 400, "EMULATOR.0400")


async def test_wrong_method_on_admin_path_is_405(http: Http) -> None:
    answer = await http.admin("DELETE", "health")
    assert_gateway_error(answer, 405, "APIGW.0101")
    assert answer.headers["Allow"] == "GET"


async def test_admin_needs_no_cbr_credentials_but_cbr_does(http: Http) -> None:
    assert (await http.admin("GET", "state")).status == 200
    answer = await http.send("POST", f"/v3/{ALICE.project_id}/vaults", body=b"{}")
    assert answer.status == 401
