"""Fixtures of the client integration tests: an emulator on loopback and clients for its tenants."""

from collections.abc import AsyncIterator, Callable
from typing import Literal

import pytest

from cbr_emulator.config import DEFAULT_TENANT, EmulatorConfig, Progression, Tenant
from cbr_emulator.server import RunningEmulator, start_emulator
from orchestrator.cbr.auth import AkSkAuth, Authenticator, PasswordIdentity, TokenAuth
from orchestrator.cbr.client import CbrClient
from orchestrator.cbr.endpoints import Endpoints
from orchestrator.cbr.signing import Credentials
from orchestrator.cbr.transport import CallCounter

# Same account, another region (replication destination).
REMOTE_TENANT = Tenant(
    access_key="EMULATORREMOTEKEY001",
    secret_key="emulator-remote-secret-key",
    project_id="1b2c3d4e5f60718293a4b5c6d7e8f90a",
    region="eu-west-0",
)
# Another account in the same region (backup sharing needs a different user).
PEER_TENANT = Tenant(
    access_key="EMULATORPEERKEY00001",
    secret_key="emulator-peer-secret-key",
    project_id="2c3d4e5f60718293a4b5c6d7e8f90a1b",
    region=DEFAULT_TENANT.region,
    project_name="peer-project",
    domain_name="peer-domain",
    user_name="peer-user",
    password="peer-password",
)

ClientFactory = Callable[..., CbrClient]


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    config = EmulatorConfig(
        tenants=[DEFAULT_TENANT, REMOTE_TENANT, PEER_TENANT],
        progression=Progression.instantly(),
        manual_clock=True,
    )
    async with await start_emulator(config) as running:
        yield running


@pytest.fixture
async def make_client(emulator: RunningEmulator) -> AsyncIterator[ClientFactory]:
    """``make_client(tenant, auth="aksk"|"token", **client_options)``; every client closed at the end."""
    made: list[CbrClient] = []
    endpoints = Endpoints.single(emulator.base_url)

    def authenticator(tenant: Tenant, kind: Literal["aksk", "token"]) -> Authenticator:
        if kind == "aksk":
            return AkSkAuth(Credentials(tenant.access_key, tenant.secret_key), clock=emulator.clock.now)
        identity = PasswordIdentity(
            tenant.user_name, tenant.password, tenant.domain_name, project_name=tenant.name
        )
        return TokenAuth(identity, endpoints.iam_url(tenant.region))

    def make(
        tenant: Tenant = DEFAULT_TENANT, auth: Literal["aksk", "token"] = "aksk", **options: object
    ) -> CbrClient:
        client = CbrClient(
            region=tenant.region,
            project_id=tenant.project_id,
            auth=authenticator(tenant, auth),
            endpoints=endpoints,
            **options,  # type: ignore[arg-type]
        )
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


@pytest.fixture
def remote_tenant() -> Tenant:
    return REMOTE_TENANT


@pytest.fixture
def peer_tenant() -> Tenant:
    return PEER_TENANT


@pytest.fixture
def counter() -> CallCounter:
    return CallCounter()


@pytest.fixture
def client(make_client: ClientFactory, counter: CallCounter) -> CbrClient:
    """The default tenant over AK/SK, counting its calls."""
    return make_client(observer=counter)
