"""What the HTTP layer needs from the domain and the clock, and the typed keys of the aiohttp app.

The HTTP layer depends on these small protocols rather than on the concrete ``Emulator`` and
``Clock``; ``server.py`` wires the real ones in.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from aiohttp import web

from cbr_emulator.auth import Authenticator
from cbr_emulator.config import Progression
from cbr_emulator.counters import Counters
from cbr_emulator.faults import Faults
from cbr_emulator.operation import OperationRequest, OperationResponse
from cbr_emulator.rate_limit import RateLimiter
from cbr_emulator.routes import RouteTable
from cbr_emulator.tenants import TenantDirectory


class Domain(Protocol):
    def handle(self, request: OperationRequest) -> OperationResponse: ...

    def tick(self) -> None: ...

    def describe(self) -> dict[str, Any]: ...

    def ledger(self) -> dict[str, Any]: ...

    def inventory(self, region: str | None = None, project_id: str | None = None) -> dict[str, Any]: ...

    def set_progression(self, progression: Progression) -> None: ...

    def set_backup_capacity(self, capacity: int | None) -> None: ...

    def reset_peaks(self) -> None: ...


class EmulatorClock(Protocol):
    @property
    def manual(self) -> bool: ...

    def now(self) -> datetime: ...

    def advance(self, seconds: float) -> object: ...


@dataclass(frozen=True)
class HttpSettings:
    max_body_bytes: int
    tick_interval: float = 0.2


DOMAIN: web.AppKey[Domain] = web.AppKey("cbr_domain")
CLOCK: web.AppKey[EmulatorClock] = web.AppKey("cbr_clock")
SETTINGS = web.AppKey("cbr_settings", HttpSettings)
TENANTS = web.AppKey("cbr_tenants", TenantDirectory)
AUTHENTICATOR = web.AppKey("cbr_authenticator", Authenticator)
ROUTES = web.AppKey("cbr_routes", RouteTable)
FAULTS = web.AppKey("cbr_faults", Faults)
RATE_LIMITER = web.AppKey("cbr_rate_limiter", RateLimiter)
COUNTERS = web.AppKey("cbr_counters", Counters)
CLOSING = web.AppKey("cbr_closing", asyncio.Event)
