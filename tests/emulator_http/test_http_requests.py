"""Request handling before and around the domain: bodies, content types, unknown paths, request ids."""

from __future__ import annotations

import logging
import re
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from emulator_http_harness import (
    ALICE,
    MAX_BODY,
    Http,
    assert_cbr_error,
    assert_gateway_error,
    make_config,
    vault_request,
)

from cbr_emulator.app import Components, assemble, build_app
from cbr_emulator.clock import Clock
from cbr_emulator.config import Progression
from cbr_emulator.operation import OperationRequest, OperationResponse

REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")


async def _vault_count(http: Http) -> int:
    answer = await http.signed("GET", "/vaults")
    assert answer.status == 200, answer.text
    count: int = answer.json["count"]
    return count


async def test_create_vault_end_to_end(http: Http) -> None:
    created = await http.signed("POST", "/vaults", json_body=vault_request("e2e"))
    assert created.status == 200, created.text
    vault = created.json["vault"]
    assert vault["name"] == "e2e"
    shown = await http.signed("GET", f"/vaults/{vault['id']}")
    assert shown.status == 200, shown.text
    assert shown.json["vault"]["id"] == vault["id"]
    assert await _vault_count(http) == 1


async def test_charset_variants_are_accepted(http: Http) -> None:
    content_types = ("application/json", "application/json; charset=UTF-8", "application/json;charset=utf8")
    for index, content_type in enumerate(content_types):
        answer = await http.signed(
            "POST", "/vaults", json_body=vault_request(f"charset_{index}"), content_type=content_type
        )
        assert answer.status == 200, answer.text
    assert await _vault_count(http) == len(content_types)


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b'{"vault": {"name": "x",', "not valid JSON"),
        (b'{"vault": NaN}', "not valid JSON"),
        (b"\xff\xfe{}", "not valid UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, None),  # larger than the limit
    ],
    ids=["truncated", "nan", "latin1", "oversized"],
)
async def test_bad_bodies_are_400_and_change_nothing(http: Http, body: bytes, detail: str | None) -> None:
    answer = await http.signed("POST", "/vaults", raw_body=body)
    error = assert_cbr_error(answer, 400, "BackupService.9900")
    assert detail is None or detail in error["error_msg"]
    assert await _vault_count(http) == 0


async def test_oversized_body_is_refused_before_authentication(http: Http) -> None:
    body = b" " * (MAX_BODY + 1)
    answer = await http.send("POST", f"/v3/{ALICE.project_id}/vaults", body=body)
    error = assert_cbr_error(answer, 400, "BackupService.9900")
    assert "too large" in error["error_msg"]


async def test_wrong_types_are_400_and_change_nothing(http: Http) -> None:
    body: dict[str, Any] = vault_request()
    body["vault"]["billing"]["size"] = "one hundred"
    answer = await http.signed("POST", "/vaults", json_body=body)
    assert answer.status == 400, answer.text
    assert answer.json["error_code"].startswith("BackupService.")
    assert await _vault_count(http) == 0


async def test_non_json_content_type_is_400(http: Http) -> None:
    answer = await http.signed("POST", "/vaults", json_body=vault_request(), content_type="text/plain")
    assert_cbr_error(answer, 400, "BackupService.9900")
    assert await _vault_count(http) == 0


async def test_unknown_path_is_404_with_gateway_body(http: Http) -> None:
    answer = await http.signed("GET", "/no-such-thing")
    assert_gateway_error(answer, 404, "APIGW.0101")
    answer = await http.send("GET", "/favicon.ico")
    assert_gateway_error(answer, 404, "APIGW.0101")


async def test_wrong_method_is_405_with_allow(http: Http) -> None:
    answer = await http.signed("PATCH", "/vaults")
    assert_gateway_error(answer, 405, "APIGW.0101")
    assert answer.headers["Allow"] == "GET, POST"


async def test_every_response_carries_a_request_id(http: Http) -> None:
    answers = [
        await http.signed("GET", "/vaults"),
        await http.signed("POST", "/vaults", raw_body=b"{"),
        await http.send("GET", f"/v3/{ALICE.project_id}/vaults"),
        await http.send("GET", "/nowhere"),
        await http.token(ALICE),
        await http.admin("GET", "health"),
    ]
    ids = [answer.headers["X-Request-Id"] for answer in answers]
    assert all(REQUEST_ID.match(value) for value in ids)
    assert len(set(ids)) == len(ids)


class _BrokenDomain:
    """A domain with a bug: the HTTP layer must turn it into a logged 500, not a crash."""

    def handle(self, request: OperationRequest) -> OperationResponse:
        raise KeyError("bug")

    def tick(self) -> None:
        return None

    def describe(self) -> dict[str, Any]:
        return {}

    def set_progression(self, progression: Progression) -> None:
        return None

    def set_backup_capacity(self, capacity: int | None) -> None:
        return None

    def reset_peaks(self) -> None:
        return None


async def test_unexpected_domain_exception_is_500_9910_and_logged(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    parts: Components = assemble(make_config(), _BrokenDomain(), Clock(manual=True))
    runner = web.AppRunner(build_app(parts))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        http = Http(session, f"http://127.0.0.1:{runner.addresses[0][1]}")
        answer = await http.signed("GET", "/vaults")
    finally:
        await runner.cleanup()
    assert_cbr_error(answer, 500, "BackupService.9910")
    assert REQUEST_ID.match(answer.headers["X-Request-Id"])
    assert any(r.levelno == logging.ERROR and "bug:" in r.getMessage() for r in caplog.records)
