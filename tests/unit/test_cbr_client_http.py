"""The client against a tiny loopback HTTP server: exact wire format, auth, failures, paging.

The server here is a scripted stand-in (one handler per test), not the emulator; it checks what the
client sends byte for byte and answers whatever the test needs.
"""

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp import web

from orchestrator.cbr.auth import AkSkAuth, PasswordIdentity, TokenAuth
from orchestrator.cbr.bodies import BackupRestore, CheckpointParameters
from orchestrator.cbr.client import CbrClient
from orchestrator.cbr.endpoints import Endpoints
from orchestrator.cbr.errors import CbrApiError, ErrorKind
from orchestrator.cbr.query import BackupFilter, OperationLogFilter
from orchestrator.cbr.signing import Credentials, verify_request
from orchestrator.cbr.transport import CallCounter

PROJECT = "0123456789abcdef0123456789abcdef"
REGION = "eu-west-101"
AK, SK = "AK-UNIT", "canary-sk-5555"
PASSWORD = "canary-password-6666"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Seen:
    method: str
    raw_path: str
    query_string: str  # as sent, still encoded
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeCloud:
    """Routes ``(METHOD, path suffix after /v3/{project})`` to handlers; records every request."""

    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    base_url: str = ""

    def on(self, method: str, suffix: str, handler: Handler) -> None:
        self.routes[(method, suffix)] = handler

    def answer(self, method: str, suffix: str, status: int, body: object = None, **headers: str) -> None:
        async def handler(request: web.Request) -> web.StreamResponse:
            text = "" if body is None else body if isinstance(body, str) else json.dumps(body)
            return web.Response(status=status, text=text, headers=headers, content_type="application/json")

        self.on(method, suffix, handler)

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        raw_path, _, raw_query = request.raw_path.partition("?")
        self.seen.append(Seen(request.method, raw_path, raw_query, dict(request.headers), body))
        path = request.path
        prefix = f"/v3/{PROJECT}"
        suffix = path[len(prefix) :] if path.startswith(prefix) else path
        handler = self.routes.get((request.method, suffix))
        if handler is None:
            return web.json_response(
                {"error_code": "TEST.404", "error_msg": f"no route {suffix}"}, status=404
            )
        return await handler(request)


@pytest.fixture
async def cloud() -> AsyncIterator[FakeCloud]:
    fake = FakeCloud()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.dispatch)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.base_url = f"http://127.0.0.1:{port}"
    yield fake
    await runner.cleanup()


def aksk_client(cloud: FakeCloud, **options: object) -> CbrClient:
    return CbrClient(
        region=REGION,
        project_id=PROJECT,
        auth=AkSkAuth(Credentials(AK, SK)),
        endpoints=Endpoints.single(cloud.base_url),
        **options,  # type: ignore[arg-type]
    )


BACKUP = {"id": "b1", "status": "available", "vault_id": "v1"}


async def test_query_is_sent_exactly_as_canonical_and_signature_verifies(cloud: FakeCloud) -> None:
    cloud.answer("GET", "/backups", 200, {"backups": [BACKUP], "count": 1})
    filters = BackupFilter(
        name="daily backup",
        resource_type="OS::Nova::Server",
        status=["error", "available"],
        show_replication=True,
        incremental=False,
        start_time=datetime(2024, 3, 1, tzinfo=UTC),
        sort="created_at:desc",
    )
    async with aksk_client(cloud) as client:
        page = await client.list_backups(filters, limit=10, offset=0)
    assert [backup.id for backup in page.backups] == ["b1"]
    seen = cloud.seen[0]
    assert seen.query_string == (
        "incremental=false&limit=10&name=daily%20backup&offset=0&resource_type=OS%3A%3ANova%3A%3AServer"
        "&show_replication=true&sort=created_at%3Adesc&start_time=2024-03-01T00%3A00%3A00Z"
        "&status=available&status=error"
    )
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["X-Project-Id"] == PROJECT
    verify_request(
        "GET", seen.raw_path, seen.query_string, seen.headers, seen.body, {AK: SK}.get, datetime.now(UTC)
    )


async def test_path_parameters_are_encoded_with_no_safe_characters(cloud: FakeCloud) -> None:
    cloud.answer("DELETE", "/vault/v1/tags/cost center/é+%", 204)
    async with aksk_client(cloud) as client:
        await client.delete_vault_tag("v1", "cost center/é+%")
    seen = cloud.seen[0]
    assert seen.raw_path == f"/v3/{PROJECT}/vault/v1/tags/cost%20center%2F%C3%A9%2B%25"
    verify_request("DELETE", seen.raw_path, "", seen.headers, None, {AK: SK}.get, datetime.now(UTC))


async def test_post_body_content_type_and_signature(cloud: FakeCloud) -> None:
    cloud.answer("POST", "/checkpoints", 200, {"checkpoint": {"id": "c1", "status": "protecting"}})
    async with aksk_client(cloud) as client:
        checkpoint = await client.create_checkpoint("v1", CheckpointParameters(resources=["r1"], name="n"))
    assert checkpoint.status == "protecting"
    seen = cloud.seen[0]
    assert seen.headers["Content-Type"] == "application/json;charset=utf-8"
    assert json.loads(seen.body) == {
        "checkpoint": {"parameters": {"resources": ["r1"], "name": "n"}, "vault_id": "v1"}
    }
    verify_request("POST", seen.raw_path, "", seen.headers, seen.body, {AK: SK}.get, datetime.now(UTC))


async def test_error_answer_becomes_classified_error(cloud: FakeCloud) -> None:
    cloud.answer(
        "GET",
        "/vaults/nope",
        404,
        {"error_code": "BackupService.6105", "error_msg": "gone"},
        **{"X-Request-Id": "req-404"},
    )
    async with aksk_client(cloud) as client:
        with pytest.raises(CbrApiError) as caught:
            await client.show_vault("nope")
    error = caught.value
    assert (error.operation, error.status, error.code, error.kind, error.request_id) == (
        "show_vault",
        404,
        "BackupService.6105",
        ErrorKind.TERMINAL,
        "req-404",
    )


async def test_throttled_answer_carries_retry_after(cloud: FakeCloud) -> None:
    cloud.answer(
        "GET",
        "/operation-logs",
        429,
        {"error_code": "APIGW.0308", "error_msg": "slow"},
        **{"Retry-After": "3"},
    )
    async with aksk_client(cloud) as client:
        with pytest.raises(CbrApiError) as caught:
            await client.list_operation_logs(OperationLogFilter(status="running"))
    assert (caught.value.kind, caught.value.retry_after, caught.value.throttled) == (
        ErrorKind.RETRY_LATER,
        3.0,
        True,
    )


async def test_delete_of_missing_is_already_done(cloud: FakeCloud) -> None:
    cloud.answer("DELETE", "/backups/gone", 404, {"error_code": "BackupService.6200", "error_msg": "gone"})
    async with aksk_client(cloud) as client:
        with pytest.raises(CbrApiError) as caught:
            await client.delete_backup("gone")
    assert caught.value.kind is ErrorKind.ALREADY_DONE


async def test_restore_answers_202_with_no_body(cloud: FakeCloud) -> None:
    cloud.answer("POST", "/backups/b1/restore", 202)
    async with aksk_client(cloud) as client:
        await client.restore_backup("b1", BackupRestore(volume_id="vol"))
    assert json.loads(cloud.seen[0].body) == {"restore": {"volume_id": "vol"}}


@pytest.mark.parametrize(
    ("body", "detail"),
    [("not json", "not JSON"), ({"vault": {"name": "no id"}}, "first id"), ({}, "'vault'")],
)
async def test_malformed_success_is_invalid_response(cloud: FakeCloud, body: object, detail: str) -> None:
    cloud.answer("GET", "/vaults/v1", 200, body)
    async with aksk_client(cloud) as client:
        with pytest.raises(CbrApiError) as caught:
            await client.show_vault("v1")
    assert (caught.value.code, caught.value.kind) == ("invalid_response", ErrorKind.TERMINAL)
    assert detail in caught.value.message


async def test_timeout_of_a_create_leaves_the_outcome_unknown(cloud: FakeCloud) -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(2)
        return web.json_response({})

    cloud.on("POST", "/checkpoints", slow)
    cloud.on("GET", "/vaults/v1", slow)
    async with aksk_client(cloud, timeout=5.0) as client:
        with pytest.raises(CbrApiError) as created:
            await client.create_checkpoint("v1", request_timeout=0.2)
        with pytest.raises(CbrApiError) as shown:
            await client.show_vault("v1", request_timeout=0.2)
    assert (created.value.code, created.value.kind, created.value.outcome_unknown) == (
        "timeout",
        ErrorKind.RETRY_LATER,
        True,
    )
    assert (shown.value.code, shown.value.outcome_unknown) == ("timeout", False)


async def test_unreachable_cloud_is_a_connection_error() -> None:
    with_nothing = CbrClient(
        region=REGION,
        project_id=PROJECT,
        auth=AkSkAuth(Credentials(AK, SK)),
        endpoints=Endpoints.single("http://127.0.0.1:9"),
    )
    async with with_nothing as client:
        with pytest.raises(CbrApiError) as caught:
            await client.create_checkpoint("v1", request_timeout=2)
    error = caught.value
    assert (error.status, error.code, error.kind, error.outcome_unknown) == (
        0,
        "connection_error",
        ErrorKind.RETRY_LATER,
        False,
    )


class Iam:
    """IAM route on the fake cloud: issues numbered tokens; CBR routes accept only ``valid``."""

    def __init__(self, cloud: FakeCloud) -> None:
        self.logins = 0
        self.valid: set[str] = set()
        cloud.on("POST", "/v3/auth/tokens", self.login)

    async def login(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if body["auth"]["identity"]["password"]["user"]["password"] != PASSWORD:
            return web.json_response({"error": {"code": 401, "message": "bad password"}}, status=401)
        self.logins += 1
        token = f"tok-{self.logins}"
        self.valid.add(token)
        expires = (datetime.now(UTC) + timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return web.json_response(
            {"token": {"expires_at": expires}}, status=201, headers={"X-Subject-Token": token}
        )


def token_client(
    cloud: FakeCloud, observer: CallCounter | None = None, password: str = PASSWORD
) -> CbrClient:
    endpoints = Endpoints.single(cloud.base_url)
    identity = PasswordIdentity("emulator-user", password, "emulator-domain", project_name=REGION)
    return CbrClient(
        region=REGION,
        project_id=PROJECT,
        auth=TokenAuth(identity, endpoints.iam_url(REGION)),
        endpoints=endpoints,
        observer=observer,
    )


async def test_token_401_refreshes_once_and_replays(cloud: FakeCloud) -> None:
    iam = Iam(cloud)

    async def vault(request: web.Request) -> web.StreamResponse:
        if request.headers.get("X-Auth-Token") not in iam.valid:
            return web.json_response({"error_code": "APIGW.0301", "error_msg": "bad token"}, status=401)
        return web.json_response({"vault": {"id": "v1"}})

    cloud.on("GET", "/vaults/v1", vault)
    counter = CallCounter()
    async with token_client(cloud, counter) as client:
        assert (await client.show_vault("v1")).id == "v1"
        iam.valid.clear()  # the cloud revokes every token
        assert (await client.show_vault("v1")).id == "v1"
    assert iam.logins == 2
    assert counter.calls["show_vault"] == 3
    assert counter.errors["show_vault"] == 1
    cbr_requests = [seen for seen in cloud.seen if "/vaults/" in seen.raw_path]
    assert [seen.headers["X-Auth-Token"] for seen in cbr_requests] == ["tok-1", "tok-1", "tok-2"]
    assert all("Authorization" not in seen.headers for seen in cbr_requests)


async def test_token_401_twice_gives_up(cloud: FakeCloud) -> None:
    iam = Iam(cloud)
    cloud.answer("GET", "/vaults/v1", 401, {"error_code": "APIGW.0301", "error_msg": "no"})
    async with token_client(cloud) as client:
        with pytest.raises(CbrApiError) as caught:
            await client.show_vault("v1")
    assert (caught.value.status, caught.value.kind) == (401, ErrorKind.TERMINAL)
    assert iam.logins == 2
    assert len([seen for seen in cloud.seen if "/vaults/" in seen.raw_path]) == 2


async def test_aksk_401_is_not_replayed(cloud: FakeCloud) -> None:
    cloud.answer("GET", "/vaults/v1", 401, {"error_code": "APIGW.0301", "error_msg": "bad signature"})
    async with aksk_client(cloud) as client:
        with pytest.raises(CbrApiError):
            await client.show_vault("v1")
    assert len(cloud.seen) == 1


async def test_failed_login_is_an_error_without_the_password(
    cloud: FakeCloud, caplog: pytest.LogCaptureFixture
) -> None:
    Iam(cloud)
    caplog.set_level(logging.DEBUG)
    async with token_client(cloud, password="wrong-" + PASSWORD) as client:
        with pytest.raises(CbrApiError) as caught:
            await client.show_vault("v1")
    assert (caught.value.operation, caught.value.status, caught.value.message) == (
        "iam_create_token",
        401,
        "bad password",
    )
    assert PASSWORD not in str(caught.value)
    assert PASSWORD not in caplog.text


async def test_no_secret_reaches_logs_or_errors(cloud: FakeCloud, caplog: pytest.LogCaptureFixture) -> None:
    iam = Iam(cloud)
    caplog.set_level(logging.DEBUG)
    cloud.answer("GET", "/vaults/v1", 500, "upstream failure")
    texts = []
    for client in (aksk_client(cloud), token_client(cloud)):
        async with client:
            with pytest.raises(CbrApiError) as caught:
                await client.show_vault("v1")
            texts += [str(caught.value), repr(caught.value), repr(client)]
    secrets = [SK, PASSWORD, *iam.valid]
    assert iam.valid
    for secret in secrets:
        assert secret not in caplog.text
        assert all(secret not in text for text in texts)


@pytest.mark.parametrize("marker_paging", [True, False])
async def test_iter_backups_walks_every_page(cloud: FakeCloud, marker_paging: bool) -> None:
    everything = [{"id": f"b{index:02}", "status": "available"} for index in range(7)]

    async def pages(request: web.Request) -> web.StreamResponse:
        limit = int(request.query["limit"])
        if "marker" in request.query:
            start = [item["id"] for item in everything].index(request.query["marker"]) + 1
        else:
            start = int(request.query.get("offset", "0"))
        return web.json_response({"backups": everything[start : start + limit], "count": len(everything)})

    cloud.on("GET", "/backups", pages)
    async with aksk_client(cloud) as client:
        found = [
            b.id
            async for b in client.iter_backups(
                BackupFilter(vault_id="v1"), page_size=3, by_marker_paging=marker_paging
            )
        ]
    assert found == [item["id"] for item in everything]
    queries = [seen.query_string for seen in cloud.seen]
    if marker_paging:
        assert queries == [
            "limit=3&vault_id=v1",
            "limit=3&marker=b02&vault_id=v1",
            "limit=3&marker=b05&vault_id=v1",
        ]
    else:
        assert queries == [
            "limit=3&offset=0&vault_id=v1",
            "limit=3&offset=3&vault_id=v1",
            "limit=3&offset=6&vault_id=v1",
        ]


async def test_passed_session_is_left_open_owned_one_is_closed(cloud: FakeCloud) -> None:
    cloud.answer("GET", "/replication-capabilities", 200, {"regions": []})
    async with aiohttp.ClientSession() as session:
        async with aksk_client(cloud, session=session) as client:
            await client.show_replication_capabilities()
        assert not session.closed
    owned = aksk_client(cloud)
    await owned.show_replication_capabilities()
    owned_session = owned._transport.session()
    await owned.close()
    assert owned_session.closed
