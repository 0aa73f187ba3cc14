"""Every failure of a CBR call as one exception, classified by what the caller should do next.

``RETRY_LATER``: the cloud is busy, throttling, failing transiently or unreachable; the same call may
succeed later. ``ALREADY_DONE``: the effect the call asked for is already in place (the caller still
decides whether it is *its* effect, e.g. a resource bound to *this* vault). ``TERMINAL``: repeating the
call will not help.

Error bodies are read like the official SDK reads them: the first complete pair of
``error_code``/``error_msg``, ``errorCode``/``errorMsg`` or ``code``/``message``, at the top level or
one object down; a body that is not JSON becomes the message.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any


class ErrorKind(StrEnum):
    RETRY_LATER = "retry_later"
    ALREADY_DONE = "already_done"
    TERMINAL = "terminal"


# Client-side codes, for failures that never produced a CBR answer.
CONNECTION_ERROR = "connection_error"
TIMEOUT = "timeout"
INVALID_RESPONSE = "invalid_response"

_SERVICE = "BackupService."

# "Something is in progress, try again": the five the architecture names, plus those whose published
# meaning is "still busy" and whose handling is "try again later / after the current task".
BUSY_CODES = frozenset(
    _SERVICE + number
    for number in (
        "6125",  # a backup task is in progress
        "2002",  # restore refused: the resource is being backed up
        "2010",  # restore refused: the resource is being restored
        "0002",  # resources are being backed up
        "6130",  # the vault is being replicated
        "6134",  # resources are being removed from the vault
        "6203",  # performing backups
        "6216",  # backup cannot be deleted while it is in use
        "7200",  # cloud databases are being backed up
        "7302",  # backups are being synchronized
        "7501",  # SFS Turbo file systems are being backed up
    )
)

THROTTLING_CODES = frozenset({"APIG.0308", "APIGW.0308"})

# Codes meaning the requested effect already exists.
ALREADY_DONE_CODES = frozenset(
    {
        _SERVICE + "6103",  # resource already bound to a vault (maybe this one: the caller checks)
        _SERVICE + "1009",  # backup already replicated / being replicated to that region
        _SERVICE + "6703",  # backup already shared with that project
    }
)

# Per operation: codes that mean "already undone" for that operation only.
_ALREADY_UNDONE = {
    "remove_vault_resource": frozenset({_SERVICE + "6135"}),  # resource not in the vault
    "disassociate_vault_policy": frozenset({_SERVICE + "6002"}),  # policy not applied to the vault
}

# 5xx answers that will not heal by waiting: replication preconditions of the backup itself, image
# constraints, configuration conflicts and authentication.
TERMINAL_SERVER_CODES = frozenset(
    _SERVICE + number
    for number in (
        "1002",  # image type cannot be replicated
        "1003",  # source is not an ECS
        "1004",  # source server has no system disk
        "1005",  # destination region does not support replication
        "1013",  # backup resource has no system disk
        "6137",  # one disk cannot be backed up in several vaults
        "6207",  # this type of backup cannot create images
        "6209",  # backup without system disk cannot create images
        "6210",  # an image has been created from the backup
        "6211",  # an image has been created from the backup
        "9998",  # authentication failed
    )
)

_TERMINAL_SERVER_STATUSES = frozenset({501, 505})


# 5xx codes with which the service itself refuses a call (so it did not execute it): busy, already
# done, or a precondition of the resource.
_DEFINITE_SERVER_CODES = TERMINAL_SERVER_CODES | BUSY_CODES | ALREADY_DONE_CODES | THROTTLING_CODES


def _definite_server_answer(status: int, code: str) -> bool:
    return status in _TERMINAL_SERVER_STATUSES or code in _DEFINITE_SERVER_CODES


def is_delete_operation(operation: str) -> bool:
    return operation.startswith("delete_")


def classify(status: int, code: str, operation: str) -> ErrorKind:
    """What the caller should do about an HTTP error answer of ``operation``."""
    if code in ALREADY_DONE_CODES or code in _ALREADY_UNDONE.get(operation, frozenset()):
        return ErrorKind.ALREADY_DONE
    if status == 404 and is_delete_operation(operation):
        return ErrorKind.ALREADY_DONE
    if code in BUSY_CODES or code in THROTTLING_CODES or status in (408, 429):
        return ErrorKind.RETRY_LATER
    if status >= 500:
        if code in TERMINAL_SERVER_CODES or status in _TERMINAL_SERVER_STATUSES:
            return ErrorKind.TERMINAL
        return ErrorKind.RETRY_LATER
    return ErrorKind.TERMINAL


class CbrApiError(Exception):
    """A CBR call that did not succeed. Never carries request headers, bodies or credentials."""

    def __init__(
        self,
        *,
        operation: str,
        status: int,
        code: str,
        message: str,
        kind: ErrorKind,
        request_id: str | None = None,
        retry_after: float | None = None,
        outcome_unknown: bool = False,
    ) -> None:
        self.operation = operation
        self.status = status
        self.code = code
        self.message = message
        self.kind = kind
        self.request_id = request_id
        self.retry_after = retry_after
        self.outcome_unknown = outcome_unknown
        super().__init__(self._describe())

    def _describe(self) -> str:
        text = f"{self.operation}: HTTP {self.status} {self.code}: {self.message} [{self.kind}]"
        if self.request_id:
            text += f" (request id {self.request_id})"
        if self.retry_after is not None:
            text += f" (retry after {self.retry_after:g}s)"
        if self.outcome_unknown:
            text += " (outcome unknown: the call may have taken effect)"
        return text

    @property
    def retry_later(self) -> bool:
        return self.kind is ErrorKind.RETRY_LATER

    @property
    def already_done(self) -> bool:
        return self.kind is ErrorKind.ALREADY_DONE

    @property
    def throttled(self) -> bool:
        return self.status == 429 or self.code in THROTTLING_CODES


_PAIRS = (("error_code", "error_msg"), ("errorCode", "errorMsg"), ("code", "message"))


def _pair_in(document: Mapping[str, Any]) -> tuple[str, str] | None:
    for code_key, message_key in _PAIRS:
        if code_key in document and message_key in document:
            return _text(document[code_key]), _text(document[message_key])
    return None


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _find_pair(document: Mapping[str, Any]) -> tuple[str, str] | None:
    found = _pair_in(document)
    if found is not None:
        return found
    for value in document.values():
        if isinstance(value, Mapping):
            found = _pair_in(value)
            if found is not None:
                return found
    return None


def _find_request_id(document: Mapping[str, Any]) -> str | None:
    if isinstance(document.get("request_id"), str):
        return str(document["request_id"])
    for value in document.values():
        if isinstance(value, Mapping) and isinstance(value.get("request_id"), str):
            return str(value["request_id"])
    return None


def parse_error_body(status: int, text: str) -> tuple[str, str, str | None]:
    """``(code, message, request_id)`` from an error body; code defaults to the HTTP status."""
    try:
        document = json.loads(text) if text else None
    except ValueError:
        document = None
    code, message, request_id = "", text.strip(), None
    if isinstance(document, Mapping):
        pair = _find_pair(document)
        if pair is not None:
            code, message = pair
        request_id = _find_request_id(document)
    return code or str(status), message or text.strip(), request_id


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        return _seconds_until(value, now or datetime.now(UTC))
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def _seconds_until(http_date: str, now: datetime) -> float | None:
    try:
        moment = parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max((moment - now).total_seconds(), 0.0)


DEFAULT_RETRY_AFTER_CAP = 120.0  # seconds: one answer may not stop a project's calls for longer


def error_from_response(
    operation: str,
    status: int,
    headers: Mapping[str, str],
    text: str,
    *,
    idempotent: bool = True,
    retry_after_cap: float = DEFAULT_RETRY_AFTER_CAP,
) -> CbrApiError:
    """The error for an HTTP answer of status ≥ 400 (``headers`` looked up case-insensitively).

    A 5xx to a call that is not idempotent is not a definite answer (a gateway may time out after the
    service executed the call): its outcome is unknown, unless the code is one the service itself uses
    to refuse the call. ``Retry-After`` is capped at ``retry_after_cap`` seconds.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    code, message, body_request_id = parse_error_body(status, text)
    kind = classify(status, code, operation)
    unknown = not idempotent and status >= 500 and not _definite_server_answer(status, code)
    retry_after = parse_retry_after(lowered.get("retry-after"))
    return CbrApiError(
        operation=operation,
        status=status,
        code=code,
        message=message[:2000],
        kind=ErrorKind.RETRY_LATER if unknown else kind,
        request_id=lowered.get("x-request-id") or body_request_id,
        retry_after=None if retry_after is None else min(retry_after, retry_after_cap),
        outcome_unknown=unknown,
    )


def connection_error(operation: str, detail: str, *, request_sent: bool, idempotent: bool) -> CbrApiError:
    """The cloud could not be reached, or the connection broke before an answer arrived."""
    return CbrApiError(
        operation=operation,
        status=0,
        code=CONNECTION_ERROR,
        message=detail,
        kind=ErrorKind.RETRY_LATER,
        outcome_unknown=request_sent and not idempotent,
    )


def timeout_error(operation: str, seconds: float, *, idempotent: bool) -> CbrApiError:
    """No answer within the call's timeout: a non-idempotent call may still have taken effect."""
    return CbrApiError(
        operation=operation,
        status=0,
        code=TIMEOUT,
        message=f"no answer within {seconds:g}s",
        kind=ErrorKind.RETRY_LATER,
        outcome_unknown=not idempotent,
    )


def invalid_response(
    operation: str, status: int, detail: str, request_id: str | None, *, idempotent: bool = True
) -> CbrApiError:
    """A success answer whose body does not have the documented shape.

    To a call that is not idempotent it is not a definite answer: the call may well have taken effect,
    and what it made is not known (outcome unknown). Otherwise repeating the call will not help.
    """
    return CbrApiError(
        operation=operation,
        status=status,
        code=INVALID_RESPONSE,
        message=detail,
        kind=ErrorKind.TERMINAL if idempotent else ErrorKind.RETRY_LATER,
        request_id=request_id,
        outcome_unknown=not idempotent,
    )
