"""Messages the orchestrator must refuse: each has to end in the dead letters, with a reason.

Every body is distinct (an index is woven in), so that a dead letter is matched to the message it was.
A ``late`` message reuses the id of a command sent earlier with another body: it goes out near the end,
once its original has been taken in, and must be refused rather than acked and ignored.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.bench.soak.seed import SOURCE
from orchestrator.messages import AnyCommand

NO_CREDENTIALS_PROJECT = "ab" * 16  # a well-formed project id no worker has credentials for


@dataclass(frozen=True)
class BadMessage:
    body: bytes
    message_id: str
    what: str
    late: bool = False


def _dumps(raw: Any) -> bytes:
    return json.dumps(raw, separators=(",", ":")).encode()


def _backup_body(command_id: str, project_id: str = SOURCE.project_id) -> dict[str, Any]:
    return {
        "command_id": command_id,
        "project_id": project_id,
        "region": SOURCE.region,
        "kind": "backup",
        "vault": {"name": "soak-nowhere"},
        "resources": [{"id": "no-such-server"}],
    }


def _not_json(i: int, _: AnyCommand) -> tuple[str, bytes]:
    return "not JSON", b"{not json " + str(i).encode()


def _not_an_object(i: int, _: AnyCommand) -> tuple[str, bytes]:
    return "not an object", _dumps([i, "backup"])


def _unknown_version(i: int, _: AnyCommand) -> tuple[str, bytes]:
    return "unknown version", _dumps({**_backup_body(f"soak-bad-version-{i}"), "version": 9})


def _unknown_kind(i: int, _: AnyCommand) -> tuple[str, bytes]:
    return "unknown kind", _dumps({**_backup_body(f"soak-bad-kind-{i}"), "kind": "explode"})


def _missing_field(i: int, _: AnyCommand) -> tuple[str, bytes]:
    raw = _backup_body(f"soak-bad-missing-{i}")
    del raw["resources"]
    return "missing field", _dumps(raw)


def _no_credentials(i: int, _: AnyCommand) -> tuple[str, bytes]:
    return "no credentials", _dumps(_backup_body(f"soak-bad-nocred-{i}", NO_CREDENTIALS_PROJECT))


def _deep_nesting(i: int, _: AnyCommand) -> tuple[str, bytes]:
    depth = 20_000 + i  # under the 64 KiB command limit, far over the JSON parser's recursion limit
    return "deep nesting", b"[" * depth + b"]" * depth


def _huge_number(i: int, _: AnyCommand) -> tuple[str, bytes]:
    return "huge number", b'{"version":1' + b"0" * (5000 + i) + b"}"


def _reused_id(i: int, original: AnyCommand) -> tuple[str, bytes]:
    del i
    return "reused id, other body", _dumps(_backup_body(original.command_id))


KINDS: tuple[Callable[[int, AnyCommand], tuple[str, bytes]], ...] = (
    _not_json,
    _not_an_object,
    _unknown_version,
    _unknown_kind,
    _missing_field,
    _no_credentials,
    _deep_nesting,
    _huge_number,
    _reused_id,
)


def bad_messages(count: int, originals: Sequence[AnyCommand], rng: random.Random) -> list[BadMessage]:
    """``count`` bad messages, the kinds in turn; reused ids are taken from ``originals``."""
    found = []
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        what, body = kind(i, rng.choice(list(originals)))
        found.append(BadMessage(body, f"soak-bad-{i:04d}", what, late=kind is _reused_id))
    return found
