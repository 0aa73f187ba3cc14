"""IAM password tokens: issue, use on CBR, refuse, expire; project lists."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

from emulator_http_harness import ALICE, ALICE_EU, BOB, Http, assert_gateway_error

from cbr_emulator.iam import stable_id

IAM_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


async def test_token_is_issued_in_x_subject_token(http: Http) -> None:
    answer = await http.token(ALICE)
    assert answer.status == 201, answer.text
    assert answer.headers["X-Subject-Token"].startswith("MII")
    token = answer.json["token"]
    assert token["project"] == {
        "id": ALICE.project_id,
        "name": ALICE.name,
        "domain": {"id": stable_id("domain", ALICE.domain_name), "name": ALICE.domain_name},
    }
    assert token["user"]["name"] == ALICE.user_name
    assert token["methods"] == ["password"]
    assert token["catalog"] == []
    assert token["roles"]
    assert IAM_TIME.match(token["expires_at"])
    assert IAM_TIME.match(token["issued_at"])
    issued = datetime.strptime(token["issued_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    expires = datetime.strptime(token["expires_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert expires - issued == timedelta(hours=24)


async def test_token_authenticates_cbr_requests_of_its_project(http: Http) -> None:
    token = (await http.token(ALICE)).headers["X-Subject-Token"]
    answer = await http.with_token("GET", "/vaults", token, ALICE.project_id)
    assert answer.status == 200, answer.text


async def test_token_is_scoped_to_one_project(http: Http) -> None:
    token = (await http.token(ALICE)).headers["X-Subject-Token"]
    answer = await http.with_token("GET", "/vaults", token, ALICE_EU.project_id)
    assert_gateway_error(answer, 403, "APIGW.0302")
    answer = await http.with_token("GET", "/vaults", token, BOB.project_id)
    assert_gateway_error(answer, 403, "APIGW.0302")


async def test_scope_by_project_id(http: Http) -> None:
    answer = await http.token(ALICE, id=ALICE_EU.project_id)
    assert answer.status == 201, answer.text
    assert answer.json["token"]["project"]["id"] == ALICE_EU.project_id


async def test_wrong_password_is_401(http: Http) -> None:
    answer = await http.token(ALICE, password="wrong")
    assert answer.status == 401
    assert answer.json == {
        "error": {"code": 401, "title": "Unauthorized", "message": "The username or password is wrong."}
    }
    assert "X-Subject-Token" not in answer.headers
    assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["X-Request-Id"])


async def test_another_users_project_is_401(http: Http) -> None:
    answer = await http.token(ALICE, name=BOB.name)
    assert answer.status == 401
    assert answer.json["error"]["code"] == 401


async def test_missing_scope_is_400(http: Http) -> None:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "alice"}}}}}
    headers = {"Content-Type": "application/json"}
    answer = await http.send("POST", "/v3/auth/tokens", headers=headers, body=json.dumps(body).encode())
    assert answer.status == 400
    assert answer.json["error"]["code"] == 400


async def test_malformed_token_request_is_400(http: Http) -> None:
    headers = {"Content-Type": "application/json"}
    answer = await http.send("POST", "/v3/auth/tokens", headers=headers, body=b'{"auth": ')
    assert answer.status == 400
    assert answer.json["error"]["title"] == "Bad Request"


async def test_unknown_token_is_401(http: Http) -> None:
    answer = await http.with_token("GET", "/vaults", "MIInot-a-token", ALICE.project_id)
    body = assert_gateway_error(answer, 401, "APIGW.0301")
    assert "MIInot-a-token" not in body["error_msg"]


async def test_token_expires_after_24_hours_on_the_emulator_clock(http: Http) -> None:
    token = (await http.token(ALICE)).headers["X-Subject-Token"]
    await http.admin("POST", "clock/advance", {"seconds": 24 * 3600 - 1})
    assert (await http.with_token("GET", "/vaults", token, ALICE.project_id)).status == 200
    await http.admin("POST", "clock/advance", {"seconds": 1})
    answer = await http.with_token("GET", "/vaults", token, ALICE.project_id)
    assert_gateway_error(answer, 401, "APIGW.0301")


async def test_auth_projects_lists_the_users_projects(http: Http) -> None:
    token = (await http.token(ALICE)).headers["X-Subject-Token"]
    answer = await http.send("GET", "/v3/auth/projects", headers={"X-Auth-Token": token})
    assert answer.status == 200, answer.text
    projects = answer.json["projects"]
    assert {p["id"] for p in projects} == {ALICE.project_id, ALICE_EU.project_id}
    first = projects[0]
    assert first["enabled"] is True
    assert first["domain_id"] == stable_id("domain", ALICE.domain_name)
    assert first["links"]["self"].endswith(f"/v3/projects/{first['id']}")


async def test_projects_of_the_domain_with_name_filter(http: Http) -> None:
    token = (await http.token(BOB)).headers["X-Subject-Token"]
    answer = await http.send("GET", "/v3/projects", headers={"X-Auth-Token": token})
    assert [p["name"] for p in answer.json["projects"]] == [BOB.name]
    answer = await http.send("GET", "/v3/projects?name=nope", headers={"X-Auth-Token": token})
    assert answer.json["projects"] == []


async def test_project_lists_need_a_token(http: Http) -> None:
    answer = await http.send("GET", "/v3/auth/projects")
    assert answer.status == 401
    assert answer.json["error"]["code"] == 401


async def test_wrong_method_on_iam_path_is_405(http: Http) -> None:
    answer = await http.send("DELETE", "/v3/auth/tokens")
    assert_gateway_error(answer, 405, "APIGW.0101")
    assert answer.headers["Allow"] == "POST"
