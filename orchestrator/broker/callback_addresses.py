"""Where a callback may connect: the addresses a callback host resolves to, less the internal ones.

The allow-list names hosts, but a name is only as good as its DNS answer: an allowed name that resolves
(or is made to resolve, by rebinding) to a loopback, private, link-local or otherwise non-public address
would let a command reach the orchestrator's own network. The deliverer's connector resolves through
:class:`PublicAddressResolver`, so the address checked is the address connected to. A host written on the
allow-list as a literal IP address is the operator's explicit choice and is not resolved at all;
``api.callback_private_networks`` lets names resolve to internal addresses too.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver


class InternalAddressOnly(OSError):
    """Every address of a callback host is internal."""


class PublicAddressResolver(AbstractResolver):
    """A resolver that answers only the public (globally routable) addresses of a name."""

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._inner.resolve(host, port, family)
        public = [answer for answer in answers if is_public(answer["host"])]
        if not public:
            raise InternalAddressOnly(f"{host} resolves only to internal addresses")
        return public

    async def close(self) -> None:
        await self._inner.close()


def is_public(address: Any) -> bool:
    try:
        return ipaddress.ip_address(str(address).split("%", 1)[0]).is_global
    except ValueError:
        return False
