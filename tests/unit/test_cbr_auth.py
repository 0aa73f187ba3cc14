"""Token caching with an injected clock, AK/SK headers that verify, and secrets kept out of texts."""

import asyncio
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from orchestrator.cbr.auth import AkSkAuth, IamToken, OutgoingRequest, PasswordIdentity, TokenAuth, TokenCache
from orchestrator.cbr.signing import Credentials, verify_request

START = datetime(2024, 3, 15, 9, 30, tzinfo=UTC)
SECRET_KEY = "canary-secret-key-0000"
PASSWORD = "canary-password-1111"
TOKEN = "canary-token-2222"


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class FakeIam:
    """Issues numbered tokens valid for ``lifetime``; counts logins; can be made slow."""

    def __init__(self, clock: FakeClock, lifetime: timedelta = timedelta(hours=24)) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.logins = 0
        self.gate: asyncio.Event | None = None

    async def issue(self) -> IamToken:
        self.logins += 1
        if self.gate is not None:
            await self.gate.wait()
        return IamToken(value=f"token-{self.logins}", expires_at=self.clock() + self.lifetime)


async def test_token_is_reused_until_the_margin_before_expiry() -> None:
    clock = FakeClock()
    iam = FakeIam(clock)
    cache = TokenCache(clock, refresh_margin=timedelta(minutes=5))
    assert await cache.get(iam.issue) == "token-1"
    clock.advance(hours=23, minutes=54)
    assert await cache.get(iam.issue) == "token-1"
    clock.advance(minutes=1)  # exactly 5 minutes left: too close
    assert await cache.get(iam.issue) == "token-2"
    assert (iam.logins, cache.refreshes) == (2, 2)


async def test_expired_token_is_replaced() -> None:
    clock = FakeClock()
    iam = FakeIam(clock, lifetime=timedelta(hours=1))
    cache = TokenCache(clock, refresh_margin=timedelta(0))
    await cache.get(iam.issue)
    clock.advance(hours=2)
    assert await cache.get(iam.issue) == "token-2"


async def test_concurrent_callers_share_one_login() -> None:
    clock = FakeClock()
    iam = FakeIam(clock)
    iam.gate = asyncio.Event()
    cache = TokenCache(clock)
    waiting = [asyncio.create_task(cache.get(iam.issue)) for _ in range(10)]
    await asyncio.sleep(0)
    iam.gate.set()
    assert await asyncio.gather(*waiting) == ["token-1"] * 10
    assert iam.logins == 1


async def test_invalidate_drops_only_the_stale_token() -> None:
    clock = FakeClock()
    iam = FakeIam(clock)
    cache = TokenCache(clock)
    await cache.get(iam.issue)
    assert cache.invalidate("token-1") is True
    assert await cache.get(iam.issue) == "token-2"
    assert cache.invalidate("token-1") is False  # a late 401 of the old token keeps the new one
    assert await cache.get(iam.issue) == "token-2"
    assert iam.logins == 2


async def test_many_401s_of_one_token_cause_one_refresh() -> None:
    clock = FakeClock()
    iam = FakeIam(clock)
    auth = TokenAuth(
        PasswordIdentity("u", PASSWORD, "d", project_name="eu-west-101"), "http://iam", clock=clock
    )

    async def fake_login(session: aiohttp.ClientSession) -> IamToken:
        return await iam.issue()

    auth.login = fake_login  # type: ignore[method-assign]
    request = OutgoingRequest("GET", "h", "/v3/p/vaults", [], {"Content-Type": "application/json"}, None, "p")
    async with aiohttp.ClientSession() as session:
        sent = await auth.authorize(request, session)
        assert sent["X-Auth-Token"] == "token-1"
        assert all([await auth.unauthorized(sent) for _ in range(5)])
        replays = await asyncio.gather(*(auth.authorize(request, session) for _ in range(5)))
    assert {headers["X-Auth-Token"] for headers in replays} == {"token-2"}
    assert iam.logins == 2


def test_password_body_is_project_scoped() -> None:
    by_name = PasswordIdentity("emulator-user", PASSWORD, "emulator-domain", project_name="eu-west-101")
    assert by_name.request_body() == {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": "emulator-user",
                        "password": PASSWORD,
                        "domain": {"name": "emulator-domain"},
                    }
                },
            },
            "scope": {"project": {"name": "eu-west-101"}},
        }
    }
    by_id = PasswordIdentity("u", PASSWORD, "d", project_id="0123", project_name="ignored")
    assert by_id.request_body()["auth"]["scope"] == {"project": {"id": "0123"}}  # type: ignore[index]
    with pytest.raises(ValueError, match="project"):
        PasswordIdentity("u", PASSWORD, "d")


async def test_aksk_headers_verify_and_carry_the_project() -> None:
    clock = FakeClock()
    credentials = Credentials("AK-CANARY", SECRET_KEY)
    auth = AkSkAuth(credentials, clock=clock)
    request = OutgoingRequest(
        method="GET",
        host="127.0.0.1:8443",
        path="/v3/p1/vault/v%2F1/tags/cost%20center",
        query=[("status", "available"), ("limit", "10")],
        headers={"Content-Type": "application/json", "User-Agent": "test"},
        body=None,
        project_id="p1",
    )
    async with aiohttp.ClientSession() as session:
        headers = await auth.authorize(request, session)
    assert headers["X-Project-Id"] == "p1"
    assert headers["X-Sdk-Date"] == "20240315T093000Z"
    assert headers["Host"] == "127.0.0.1:8443"
    assert "x-project-id" in headers["Authorization"]
    verified = verify_request(
        "GET", request.path, "limit=10&status=available", headers, None, {"AK-CANARY": SECRET_KEY}.get, START
    )
    assert verified.access_key == "AK-CANARY"
    assert await auth.unauthorized(headers) is False


async def test_temporary_credentials_send_the_security_token() -> None:
    auth = AkSkAuth(Credentials("AK", SECRET_KEY, security_token=TOKEN), clock=FakeClock())
    request = OutgoingRequest(
        "POST", "h", "/v3/p/checkpoints", [], {"Content-Type": "application/json"}, b"{}", "p"
    )
    async with aiohttp.ClientSession() as session:
        headers = await auth.authorize(request, session)
    assert headers["X-Security-Token"] == TOKEN
    assert "x-security-token" in headers["Authorization"]


def test_no_secret_in_any_repr() -> None:
    clock = FakeClock()
    identity = PasswordIdentity("u", PASSWORD, "d", project_name="p")
    token_auth = TokenAuth(identity, "https://iam.example", clock=clock)
    token_auth.cache._token = IamToken(TOKEN, START)
    texts = [
        repr(identity),
        repr(token_auth),
        repr(token_auth.cache),
        repr(IamToken(TOKEN, START)),
        repr(AkSkAuth(Credentials("AK", SECRET_KEY, TOKEN))),
        str(IamToken(TOKEN, START)),
    ]
    for text in texts:
        assert PASSWORD not in text
        assert TOKEN not in text
        assert SECRET_KEY not in text
