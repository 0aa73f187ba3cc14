"""Domain-scoped paths at the gateway: no project in the path, so the caller's project comes from the
identity (``X-Project-Id``, ``X-Domain-Id`` or its first project), never from ``{source_project_id}``."""

from __future__ import annotations

import json
from typing import Any

from emulator_http_harness import ALICE, ALICE_EU, BOB, Answer, Http, assert_cbr_error, assert_gateway_error

from cbr_emulator.config import Tenant
from cbr_emulator.iam import stable_id
from orchestrator.cbr.signing import Credentials, sign_request


async def signed_path(
    http: Http,
    method: str,
    path: str,
    *,
    tenant: Tenant = ALICE,
    headers: dict[str, str] | None = None,
    json_body: Any = None,
) -> Answer:
    body = None if json_body is None else json.dumps(json_body).encode()
    unsigned = {"Content-Type": "application/json", **(headers or {})}
    credentials = Credentials(tenant.access_key, tenant.secret_key)
    signed = sign_request(credentials, method, http.host, path, [], unsigned, body)
    return await http.send(method, path, headers=signed, body=body)


async def test_show_domain_is_not_checked_as_a_project_scoped_call(http: Http) -> None:
    # the audit: {source_project_id} was compared with the caller's project and answered 403 APIGW.0302
    for source in (ALICE_EU, ALICE):
        answer = await signed_path(
            http, "GET", f"/v3/domain/{source.project_id}", headers={"X-Project-Id": ALICE.project_id}
        )
        assert answer.status == 200, answer.text
        assert answer.json == {
            "project_name": source.name,
            "project_id": source.project_id,
            "domain_id": stable_id("domain", source.domain_name),
            "domain_name": source.domain_name,
        }


async def test_show_domain_with_a_token_of_another_project(http: Http) -> None:
    token = (await http.token(ALICE_EU)).headers["X-Subject-Token"]
    headers = {"Content-Type": "application/json", "X-Auth-Token": token}
    answer = await http.send("GET", f"/v3/domain/{ALICE.project_id}", headers=headers)
    assert answer.status == 200, answer.text
    assert answer.json["project_id"] == ALICE.project_id


async def test_a_project_of_another_domain_is_the_domains_business_not_the_gateways(http: Http) -> None:
    answer = await signed_path(http, "GET", f"/v3/domain/{BOB.project_id}")
    assert_cbr_error(answer, 404, "BackupService.6302")


async def test_x_project_id_must_be_a_project_of_the_identity(http: Http) -> None:
    answer = await signed_path(http, "GET", "/v3/region-projects", headers={"X-Project-Id": BOB.project_id})
    assert_gateway_error(answer, 403, "APIGW.0302")


async def test_the_call_runs_in_the_project_of_x_project_id(http: Http) -> None:
    started = await signed_path(
        http,
        "POST",
        "/v3/migrates",
        headers={"X-Project-Id": ALICE_EU.project_id},
        json_body={"all_regions": False, "reservation": 0.2},
    )
    assert started.status == 200, started.text
    assert started.json == {ALICE_EU.region: "running"}


async def test_without_x_project_id_the_identitys_domain_or_first_project_is_used(http: Http) -> None:
    domain = stable_id("domain", ALICE.domain_name)
    for headers in ({"X-Domain-Id": domain}, {}):
        answer = await signed_path(http, "GET", "/v3/region-projects", headers=headers)
        assert answer.status == 200, answer.text
        assert {p["id"] for p in answer.json["projects"]} == {ALICE.project_id, ALICE_EU.project_id}
    foreign = await signed_path(http, "GET", "/v3/region-projects", headers={"X-Domain-Id": "0" * 32})
    assert_gateway_error(foreign, 403, "APIGW.0302")


async def test_a_domain_name_in_the_path_must_be_the_callers(http: Http) -> None:
    own = await signed_path(http, "GET", f"/v3/domain/{ALICE.domain_name}/projects")
    assert own.status == 200, own.text
    other = await signed_path(http, "GET", f"/v3/domain/{BOB.domain_name}/projects")
    assert_gateway_error(other, 403, "APIGW.0302")


async def test_domain_scoped_calls_still_need_a_valid_identity(http: Http) -> None:
    answer = await http.send(
        "GET", f"/v3/domain/{ALICE.project_id}", headers={"X-Project-Id": ALICE.project_id}
    )
    assert_gateway_error(answer, 401, "APIGW.0301")
