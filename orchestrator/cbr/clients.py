"""One CBR client per project and region, built from the settings, sharing one HTTP session."""

from __future__ import annotations

from typing import Protocol

import aiohttp

from orchestrator.cbr.auth import AkSkAuth, Authenticator, PasswordIdentity, TokenAuth
from orchestrator.cbr.client import CbrClient
from orchestrator.cbr.endpoints import Endpoints
from orchestrator.cbr.signing import Credentials
from orchestrator.cbr.transport import RequestObserver
from orchestrator.config import ProjectCredentials, Settings


class ProjectLimiters(Protocol):
    """Where a project's client finds the observer that paces its requests (``orchestrator.ratelimit``)."""

    def for_project(self, project_id: str, region: str) -> RequestObserver: ...


class CbrClients:
    """One :class:`CbrClient` per (project, region), sharing one HTTP session."""

    def __init__(
        self, settings: Settings, endpoints: Endpoints | None = None, limiters: ProjectLimiters | None = None
    ) -> None:
        self._settings = settings
        self._limiters = limiters  # one shared rate limiter per (project, region); none: unlimited
        overrides = settings.cbr_endpoints
        self._endpoints = endpoints or Endpoints(cbr_overrides=overrides, iam_overrides=overrides)
        self._session: aiohttp.ClientSession | None = None
        self._clients: dict[tuple[str, str], CbrClient] = {}

    @property
    def settings(self) -> Settings:
        return self._settings

    def get(self, project_id: str, region: str) -> CbrClient:
        key = (project_id, region)
        if key not in self._clients:
            creds = self._settings.credentials_for(project_id, region)
            if self._session is None:
                self._session = aiohttp.ClientSession()
            self._clients[key] = CbrClient(
                region=region,
                project_id=project_id,
                auth=self._auth(creds),
                endpoints=self._endpoints,
                session=self._session,
                timeout=self._settings.cbr_timeout_seconds,
                observer=self._limiters.for_project(project_id, region) if self._limiters else None,
                retry_after_cap=self._settings.cbr_max_retry_after_seconds,
            )
        return self._clients[key]

    def _auth(self, creds: ProjectCredentials) -> Authenticator:
        if creds.access_key and creds.secret_key:
            token = creds.security_token.get_secret_value() if creds.security_token else None
            return AkSkAuth(Credentials(creds.access_key, creds.secret_key.get_secret_value(), token))
        identity = PasswordIdentity(
            user_name=creds.user_name or "",
            password=creds.password.get_secret_value() if creds.password else "",
            domain_name=creds.domain_name or "",
            project_id=creds.project_id,
        )
        return TokenAuth(
            identity, self._endpoints.iam_url(creds.region), timeout=self._settings.cbr_timeout_seconds
        )

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
