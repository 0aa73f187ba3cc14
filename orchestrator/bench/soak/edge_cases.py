"""Valid commands at the edges: each must end with a final event, or be refused with a reason — never hang.

The schema may take them or refuse them; what the orchestrator does with them is its choice, but it must
choose:

* a ``reply_to`` of 255 characters that are 510 bytes (more than an AMQP routing key holds);
* an ``admission.start_by`` without a time zone;
* a ``deadline`` long past (the workflow has to end ``expired``, not run);
* a backup of a server already bound to another vault (CBR answers 6103 to binding it again).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.bench.soak.seed import SOURCE, VAULT_SIZE_GB


@dataclass(frozen=True)
class EdgeCase:
    what: str
    raw: dict[str, Any]


def _backup(command_id: str, server: str, vault: str = "soak-edge") -> dict[str, Any]:
    return {
        "command_id": command_id,
        "project_id": SOURCE.project_id,
        "region": SOURCE.region,
        "kind": "backup",
        "vault": {"name": vault, "create": {"size_gb": VAULT_SIZE_GB}},
        "resources": [{"id": server}],
    }


def _long_reply_to(command_id: str, server: str) -> EdgeCase:
    return EdgeCase("reply_to of 510 bytes", {**_backup(command_id, server), "reply_to": "é" * 255})


def _naive_start_by(command_id: str, server: str) -> EdgeCase:
    raw = {**_backup(command_id, server), "admission": {"start_by": "2099-01-01T00:00:00"}}
    return EdgeCase("start_by without a time zone", raw)


def _past_deadline(command_id: str, server: str) -> EdgeCase:
    return EdgeCase("deadline long past", {**_backup(command_id, server), "deadline": "2001-01-01T00:00:00Z"})


def _bound_elsewhere(command_id: str, server: str) -> EdgeCase:
    return EdgeCase("server bound to another vault", _backup(command_id, server, "soak-edge-other"))


KINDS: tuple[Callable[[str, str], EdgeCase], ...] = (
    _long_reply_to,
    _naive_start_by,
    _past_deadline,
    _bound_elsewhere,
)


def edge_cases(servers: Sequence[str], bound_elsewhere: Sequence[str]) -> list[EdgeCase]:
    """One edge case per server, the kinds in turn; ``bound_elsewhere`` servers are bound to a vault
    already (by the seeding) and serve the last kind."""
    found = []
    free, bound = iter(servers), iter(bound_elsewhere)
    for i in range(len(servers) + len(bound_elsewhere)):
        kind = KINDS[i % len(KINDS)]
        server = next(bound) if kind is _bound_elsewhere else next(free)
        found.append(kind(f"soak-edge-{i:04d}", server))
    return found


def split(count: int) -> tuple[int, int]:
    """How many of ``count`` edge cases need a free server, and how many a server bound elsewhere."""
    bound = sum(1 for i in range(count) if KINDS[i % len(KINDS)] is _bound_elsewhere)
    return count - bound, bound
