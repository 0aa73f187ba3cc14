"""Types the API tests share (a test module cannot import them from ``conftest``: several folders have
one, and which is ``conftest`` in ``sys.modules`` depends on what ran first)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

MakeKey = Callable[..., Awaitable[str]]
