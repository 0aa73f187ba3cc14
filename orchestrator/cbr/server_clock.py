"""The CBR endpoint's clock, as its ``Date`` response header tells it: how far ours is from it.

Signed requests are refused when the two differ by minutes, and status listings start
``poll_clock_slack_seconds`` before the oldest poll to absorb a smaller difference. One unauthenticated
``GET`` of the endpoint's root is enough: every answer, even a 404, carries ``Date``.
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

import aiohttp


class NoServerDate(Exception):
    """The endpoint answered without a readable ``Date`` header."""


async def clock_skew_seconds(session: aiohttp.ClientSession, base_url: str, seconds: float) -> float:
    """Server time minus our time, in seconds, measured at the middle of the round trip (``Date`` has a
    resolution of one second, so a result within ±1 s means no measurable skew)."""
    sent = time.time()
    async with session.get(
        base_url, timeout=aiohttp.ClientTimeout(total=seconds), allow_redirects=False
    ) as reply:
        received = time.time()
        header = reply.headers.get("Date")
    if header is None:
        raise NoServerDate(f"{base_url} answered HTTP {reply.status} without a Date header")
    try:
        server = parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError):
        raise NoServerDate(f"{base_url} answered with a Date header that cannot be read") from None
    # Date is truncated to the second: its middle is half a second later
    return server + 0.5 - (sent + received) / 2
