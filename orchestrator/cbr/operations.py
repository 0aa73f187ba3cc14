"""The CBR v3 operation table taken from the official SDK: name, method, path and success status.

One table serves both sides: the client (``transport``) routes a call by it and the emulator answers
by it, so that the two cannot disagree on a path or a status.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def sdk_operations() -> tuple[dict[str, Any], ...]:
    """Every operation of the SDK, as written in ``operations.json``."""
    text = resources.files("orchestrator.cbr").joinpath("operations.json").read_text("utf-8")
    return tuple(json.loads(text)["operations"])


@cache
def success_statuses() -> dict[str, int]:
    """Every operation's success status (200 where the SDK gives none)."""
    return {op["operation"]: int(op.get("success_status") or 200) for op in sdk_operations()}
