"""The guard every command message is parsed in.

Nothing is built from a message before its size, encoding, nesting depth and numbers are known to be
bounded: a size cap first (only a fleet may exceed the small one), then strict UTF-8, then a depth
count that does not recurse, then JSON whose numbers are refused when too long or not finite. Whatever
goes wrong inside becomes :class:`InvalidCommand` with a short reason that never echoes the input.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from itertools import accumulate
from typing import NoReturn

from orchestrator.config import WorkerSettings
from orchestrator.messages import AnyCommand, InvalidCommand, command_from_json

MAX_DEPTH = 64
MAX_NUMBER_CHARS = 40
FLEET_KIND = "fleet_backup"

# a JSON string, escapes included, up to its closing quote or the end of the text: every quote outside a
# string starts a match that cannot fail, so no quote is scanned from twice (the scan stays linear)
_STRING = re.compile(r'"(?:[^"\\]++|\\.?)*+(?:"|\Z)', re.DOTALL)
# each byte of the text outside strings → its depth step: +1 for [ {, -1 for ] }, 0 otherwise
_DEPTH_STEP = [0] * 256
_DEPTH_STEP[ord("[")] = _DEPTH_STEP[ord("{")] = 1
_DEPTH_STEP[ord("]")] = _DEPTH_STEP[ord("}")] = -1
_NOT_BRACKETS = bytes(b for b in range(256) if _DEPTH_STEP[b] == 0)


@dataclass(frozen=True)
class SizeLimits:
    max_bytes: int
    max_fleet_bytes: int

    @classmethod
    def of(cls, worker: WorkerSettings) -> SizeLimits:
        return cls(worker.max_command_bytes, worker.max_fleet_command_bytes)


def parse_guarded(body: bytes, limits: SizeLimits) -> AnyCommand:
    """The command in ``body``, or :class:`InvalidCommand` with the reason it is refused."""
    try:
        return _parse(body, limits)
    except InvalidCommand:
        raise
    except Exception as exc:  # anything unforeseen is still the message's fault, never the worker's
        raise InvalidCommand(f"malformed: cannot be parsed ({type(exc).__name__})") from None


def _parse(body: bytes, limits: SizeLimits) -> AnyCommand:
    too_large = InvalidCommand(
        f"too large: {len(body)} bytes, at most {limits.max_bytes} ({limits.max_fleet_bytes} for a fleet)"
    )
    large = len(body) > limits.max_bytes  # only a fleet may be
    if len(body) > limits.max_fleet_bytes:
        raise too_large
    try:
        raw = decode_bounded(body)
    except InvalidCommand:
        if large:
            raise too_large from None
        raise
    if large and not (isinstance(raw, dict) and raw.get("kind") == FLEET_KIND):
        raise too_large
    return command_from_json(raw)


def decode_bounded(body: bytes) -> object:
    """Bounded JSON, or :class:`InvalidCommand` (a webhook's body is read so too)."""
    text = _utf8(body)
    _check_depth(text)
    try:
        return json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_refuse_constant)
    except json.JSONDecodeError:
        raise InvalidCommand("malformed: not JSON") from None


def _utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidCommand("malformed: not UTF-8") from None


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH`, counted in one pass over the brackets outside
    strings (no recursion: a 100,000-deep body costs a loop, not the stack)."""
    brackets = _STRING.sub("", text).encode("ascii", "replace").translate(None, _NOT_BRACKETS)
    if brackets and max(accumulate(map(_DEPTH_STEP.__getitem__, brackets))) > MAX_DEPTH:
        raise InvalidCommand(f"malformed: nested deeper than {MAX_DEPTH} levels")


def _int(literal: str) -> int:
    _check_length(literal)
    return int(literal)


def _float(literal: str) -> float:
    _check_length(literal)
    value = float(literal)
    if not math.isfinite(value):
        raise InvalidCommand("malformed: a number out of range")
    return value


def _check_length(literal: str) -> None:
    if len(literal) > MAX_NUMBER_CHARS:
        raise InvalidCommand(f"malformed: a number longer than {MAX_NUMBER_CHARS} characters")


def _refuse_constant(name: str) -> NoReturn:
    raise InvalidCommand("malformed: NaN and Infinity are not JSON numbers")
