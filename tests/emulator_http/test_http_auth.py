"""AK/SK signatures at the gateway: accepted when right, 401 APIGW.0301 when not, 403 across tenants."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from emulator_http_harness import ALICE, ALICE_EU, BOB, Http, assert_gateway_error

from cbr_emulator.config import Tenant
from cbr_emulator.server import RunningEmulator
from orchestrator.cbr.signing import Credentials, sign_request


async def test_signed_request_is_accepted(http: Http) -> None:
    answer = await http.signed("GET", "/vaults", query=[("limit", "10"), ("offset", "0")])
    assert answer.status == 200, answer.text
    assert answer.json["vaults"] == []


async def test_one_key_serves_the_projects_of_all_its_tenants(http: Http, running: RunningEmulator) -> None:
    answer = await http.signed("GET", "/vaults", project_id=ALICE_EU.project_id)
    assert answer.status == 200, answer.text
    counters = running.counters.snapshot()["requests"]
    assert counters["by_region"] == {"eu-west-101": 1}


async def test_unknown_access_key_is_401(http: Http) -> None:
    stranger = Tenant(
        access_key="AKUNKNOWN00000000000", secret_key="x", project_id=ALICE.project_id, region="r"
    )
    answer = await http.signed("GET", "/vaults", tenant=stranger)
    body = assert_gateway_error(answer, 401, "APIGW.0301")
    assert body["error_msg"].startswith("Incorrect IAM authentication information: ")
    assert "unknown access key" in body["error_msg"]


async def test_wrong_secret_is_401(http: Http) -> None:
    answer = await http.signed("GET", "/vaults", secret_key="not-the-secret")
    body = assert_gateway_error(answer, 401, "APIGW.0301")
    assert "signature does not match" in body["error_msg"]


async def test_tampered_body_is_401(http: Http) -> None:
    path = f"/v3/{ALICE.project_id}/vaults"
    headers = {"Content-Type": "application/json;charset=utf-8", "X-Project-Id": ALICE.project_id}
    credentials = Credentials(ALICE.access_key, ALICE.secret_key)
    signed = sign_request(credentials, "POST", http.host, path, [], headers, b'{"vault": {}}')
    answer = await http.send("POST", path, headers=signed, body=b'{"vault": {"name": "x"}}')
    assert_gateway_error(answer, 401, "APIGW.0301")


async def test_tampered_query_is_401(http: Http) -> None:
    path = f"/v3/{ALICE.project_id}/vaults"
    headers = {"Content-Type": "application/json", "X-Project-Id": ALICE.project_id}
    credentials = Credentials(ALICE.access_key, ALICE.secret_key)
    signed = sign_request(credentials, "GET", http.host, path, [("limit", "1")], headers, None)
    answer = await http.send("GET", path, query="limit=2", headers=signed)
    assert_gateway_error(answer, 401, "APIGW.0301")


@pytest.mark.parametrize("minutes", [16, -16])
async def test_date_more_than_15_minutes_off_is_401(http: Http, minutes: int) -> None:
    skewed = datetime.now(UTC) + timedelta(minutes=minutes)
    answer = await http.signed("GET", "/vaults", now=skewed)
    body = assert_gateway_error(answer, 401, "APIGW.0301")
    assert "X-Sdk-Date" in body["error_msg"]


async def test_date_14_minutes_off_is_accepted(http: Http) -> None:
    answer = await http.signed("GET", "/vaults", now=datetime.now(UTC) - timedelta(minutes=14))
    assert answer.status == 200, answer.text


async def test_manual_clock_far_from_wall_time_does_not_break_signatures(
    http: Http, running: RunningEmulator
) -> None:
    running.clock.advance(3 * 86_400)
    answer = await http.signed("GET", "/vaults")
    assert answer.status == 200, answer.text


async def test_no_credentials_is_401(http: Http) -> None:
    answer = await http.send("GET", f"/v3/{ALICE.project_id}/vaults")
    assert_gateway_error(answer, 401, "APIGW.0301")


async def test_malformed_authorization_is_401(http: Http) -> None:
    headers = {"Authorization": "Basic YWxhZGRpbjpvcGVuc2VzYW1l"}
    answer = await http.send("GET", f"/v3/{ALICE.project_id}/vaults", headers=headers)
    assert_gateway_error(answer, 401, "APIGW.0301")


async def test_another_tenants_project_is_403(http: Http) -> None:
    answer = await http.signed("GET", "/vaults", tenant=ALICE, project_id=BOB.project_id)
    body = assert_gateway_error(answer, 403, "APIGW.0302")
    assert BOB.project_id in body["error_msg"]


async def test_an_x_project_id_other_than_the_paths_is_403_even_for_a_project_the_key_may_use(
    http: Http, running: RunningEmulator
) -> None:
    answer = await http.signed(
        "GET", "/vaults", project_id=ALICE.project_id, header_project=ALICE_EU.project_id
    )
    body = assert_gateway_error(answer, 403, "APIGW.0302")
    assert ALICE_EU.project_id in body["error_msg"] and "X-Project-Id" in body["error_msg"]
    assert running.counters.snapshot()["requests"]["total"] == 0  # refused at the gateway


async def test_an_x_project_id_other_than_the_tokens_path_is_403(http: Http) -> None:
    token = (await http.token(ALICE)).headers["X-Subject-Token"]
    path = ("GET", "/vaults", token, ALICE.project_id)
    mismatch = await http.with_token(*path, header_project=BOB.project_id)
    assert_gateway_error(mismatch, 403, "APIGW.0302")
    matching = await http.with_token(*path, header_project=ALICE.project_id)
    assert matching.status == 200, matching.text


async def test_unconfigured_project_is_403(http: Http) -> None:
    answer = await http.signed("GET", "/vaults", project_id="f" * 32)
    assert_gateway_error(answer, 403, "APIGW.0302")


async def test_security_token_is_accepted_and_signed(http: Http) -> None:
    path = f"/v3/{ALICE.project_id}/vaults"
    headers = {"Content-Type": "application/json", "X-Project-Id": ALICE.project_id}
    credentials = Credentials(ALICE.access_key, ALICE.secret_key, security_token="temporary-token")
    signed = sign_request(credentials, "GET", http.host, path, [], headers, None)
    assert "x-security-token" in signed["Authorization"]
    answer = await http.send("GET", path, headers=signed)
    assert answer.status == 200, answer.text


async def test_failures_never_log_secrets(
    http: Http, running: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await http.signed("GET", "/vaults", secret_key="canary-wrong-secret")
    await http.signed("GET", "/vaults", tenant=BOB, project_id=ALICE.project_id)
    text = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (ALICE.secret_key, BOB.secret_key, "canary-wrong-secret", "Signature="):
        assert secret not in text
    assert running.counters.snapshot()["auth_failures"] == 1
