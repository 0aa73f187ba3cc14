"""The parsing guard: size, UTF-8, depth and numbers bounded before anything is built; every failure a
short reason that never echoes the input."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.broker.guard import MAX_DEPTH, SizeLimits, parse_guarded
from orchestrator.config import WorkerSettings
from orchestrator.messages import BackupCommand, FleetBackupCommand, InvalidCommand

PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
LIMITS = SizeLimits.of(WorkerSettings())
ROOMY = SizeLimits(max_bytes=4 * 1024 * 1024, max_fleet_bytes=8 * 1024 * 1024)  # size never the reason


def backup(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "backup",
        "command_id": "c1",
        "project_id": PROJECT,
        "region": "eu-west-101",
        "vault": {"id": "vault-1"},
        "resources": [{"id": "srv-1"}],
    }
    return {**body, **over}


def refusal(body: bytes, limits: SizeLimits = LIMITS) -> str:
    with pytest.raises(InvalidCommand) as info:
        parse_guarded(body, limits)
    return info.value.reason


def with_raw(command: dict[str, Any], key: str, raw: str) -> bytes:
    """``command`` as JSON with ``raw`` (any JSON text, e.g. a 5,000-digit number) under ``key``."""
    return json.dumps({**command, key: "@RAW@"}).replace('"@RAW@"', raw).encode()


def test_a_valid_command_passes() -> None:
    assert isinstance(parse_guarded(json.dumps(backup()).encode(), LIMITS), BackupCommand)


def test_the_defaults_are_64_kib_and_8_mib_for_a_fleet() -> None:
    assert (LIMITS.max_bytes, LIMITS.max_fleet_bytes) == (64 * 1024, 8 * 1024 * 1024)


def test_a_100000_deep_body_is_refused_without_recursion() -> None:
    deep = b'{"kind": "backup", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert refusal(deep, ROOMY) == f"malformed: nested deeper than {MAX_DEPTH} levels"
    deep_objects = b'{"a": ' * 100_000 + b"1" + b"}" * 100_000
    assert refusal(deep_objects, ROOMY).startswith("malformed: nested deeper")


def test_depth_64_is_allowed_and_65_is_not() -> None:
    def nested(depth: int) -> bytes:  # the command object is the first level
        return with_raw(backup(), "x", "[" * (depth - 1) + "]" * (depth - 1))

    assert refusal(nested(MAX_DEPTH)) == "invalid: backup.x: Extra inputs are not permitted"
    assert refusal(nested(MAX_DEPTH + 1)).startswith("malformed: nested deeper")


def test_brackets_inside_strings_do_not_count() -> None:
    name = '[[[{{{\\"' * 20 + '"]]]'  # brackets, escaped quotes and a quote-looking tail, in one string
    command = parse_guarded(json.dumps(backup(description=name[:128])).encode(), LIMITS)
    assert isinstance(command, BackupCommand)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(alphabet='[]{}"\\ab,:é\n', max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=120,
)


def depth_of(value: object) -> int:
    """Nesting depth of a decoded JSON value, by an explicit stack (the reference for the guard)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, list | dict):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


@settings(max_examples=300, deadline=None, database=None)
@given(value=json_values, padding=st.integers(0, 70))
def test_depth_is_counted_exactly(value: object, padding: int) -> None:
    body = ("[" * padding + json.dumps(value) + "]" * padding).encode()
    depth = depth_of(json.loads(body))
    reason = refusal(body, ROOMY)  # a list is never a command: always refused, the question is why
    assert reason.startswith("malformed: nested deeper") == (depth > MAX_DEPTH), reason


def test_an_unterminated_string_full_of_escaped_quotes_is_scanned_in_linear_time() -> None:
    body = b'{"a": "' + b'\\"[' * 300_000
    started = time.monotonic()
    assert refusal(body, ROOMY) == "malformed: not JSON"
    assert time.monotonic() - started < 2  # quadratic scanning took minutes


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (with_raw(backup(), "version", "9" * 5000), "malformed: a number longer than 40 characters"),
        (
            with_raw(backup(vault={"name": "v", "create": {}}), "resources", "[" + "7" * 5000 + "]"),
            "malformed: a number longer than 40 characters",
        ),
        (with_raw(backup(), "version", "1" + "0" * 4000 + ".5"), "malformed: a number longer than 40"),
        (with_raw(backup(), "version", "1e999"), "malformed: a number out of range"),
        (with_raw(backup(), "version", "NaN"), "malformed: NaN and Infinity are not JSON numbers"),
        (with_raw(backup(), "version", "-Infinity"), "malformed: NaN and Infinity are not JSON numbers"),
        (b'{"kind": "backup", "x": "\xff"}', "malformed: not UTF-8"),
        (b"{oops", "malformed: not JSON"),
        (json.dumps(backup(version=2)).encode(), "unsupported version: 2, expected 1"),
        (json.dumps(backup(version=1.0e30)).encode(), "unsupported version: a float, expected 1"),
        (json.dumps(backup(version="1")).encode(), "unsupported version: a str, expected 1"),
        (json.dumps(backup(version=[1])).encode(), "unsupported version: a list, expected 1"),
    ],
)
def test_bad_numbers_and_bytes_get_a_reason(body: bytes, reason: str) -> None:
    assert refusal(body).startswith(reason)


def test_a_long_number_is_refused_anywhere_in_the_body() -> None:
    nested = backup(vault={"name": "v", "create": {"size_gb": "@RAW@"}})
    body = json.dumps(nested).replace('"@RAW@"', "9" * 5000).encode()
    assert refusal(body) == "malformed: a number longer than 40 characters"


def test_the_reason_never_echoes_the_input() -> None:
    canary = "CANARY-" + "7" * 60
    for body in (
        with_raw(backup(), "version", "7" * 60),
        json.dumps(backup(version=canary)).encode(),
        json.dumps(backup(secret_key=canary)).encode(),
        canary.encode(),
    ):
        assert "7777777777777777777" not in refusal(body)


def test_only_a_fleet_may_exceed_the_small_cap() -> None:
    ids = [{"id": f"server-{i:06d}"} for i in range(5_000)]
    fleet = {"kind": "fleet_backup", "command_id": "f", "project_id": PROJECT, "region": "eu-west-101"}
    big_fleet = json.dumps({**fleet, "select": {"resources": ids}}).encode()
    big_backup = json.dumps(backup(description="x" * 100, name="n", resources=ids)).encode()
    small = SizeLimits(max_bytes=64 * 1024, max_fleet_bytes=1024 * 1024)
    assert len(big_fleet) > small.max_bytes and len(big_backup) > small.max_bytes
    assert isinstance(parse_guarded(big_fleet, small), FleetBackupCommand)
    assert refusal(big_backup, small).startswith("too large")
    assert refusal(b" " * (small.max_bytes + 1), small).startswith("too large")
    assert refusal(big_fleet, SizeLimits(1024, len(big_fleet) - 1)).startswith("too large")


def test_the_caps_come_from_the_worker_settings() -> None:
    worker = WorkerSettings(max_command_bytes=2048, max_fleet_command_bytes=4096)
    assert SizeLimits.of(worker) == SizeLimits(2048, 4096)
    with pytest.raises(ValueError, match="max_fleet_command_bytes"):
        WorkerSettings(max_command_bytes=8192, max_fleet_command_bytes=4096)
