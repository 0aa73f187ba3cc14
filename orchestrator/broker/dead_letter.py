"""The dead-letter copy of a refused message: its body, its reason, and only the small original headers.

RabbitMQ closes the whole connection when a header frame exceeds ``frame_max`` (131,072 bytes by default);
a message that arrived with a header frame just under the limit, plus our reason header, would be over it.
So the copy keeps the original headers that are small scalars, within a total budget, and records how many
it dropped: its header frame always fits, whatever the original carried.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, FieldValue, HeadersType

from orchestrator.broker.topology import DROPPED_HEADERS_HEADER, REASON_HEADER

MAX_REASON_CHARS = 1000
MAX_KEPT_HEADERS_BYTES = 4096
MAX_HEADER_VALUE_BYTES = 256
MAX_HEADER_NAME_BYTES = 128


def dead_letter_copy(message: AbstractIncomingMessage, reason: str) -> aio_pika.Message:
    headers, dropped = kept_headers(message.headers or {})
    headers[REASON_HEADER] = reason[:MAX_REASON_CHARS]
    if dropped:
        headers[DROPPED_HEADERS_HEADER] = dropped
    return aio_pika.Message(
        message.body,
        headers=headers,
        content_type=message.content_type,
        message_id=message.message_id,
        correlation_id=message.correlation_id,
        reply_to=message.reply_to,
        timestamp=datetime.now(UTC),  # when it was dead-lettered (`dead-letters list` shows it)
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )


def kept_headers(headers: Mapping[str, FieldValue]) -> tuple[HeadersType, int]:
    """The original headers to keep (small scalars, in order, within the budget; never one of ours,
    which are set afresh) and how many were dropped."""
    kept: HeadersType = {}
    budget = MAX_KEPT_HEADERS_BYTES
    for name, value in headers.items():
        name_size, value_size = len(name.encode("utf-8")), _value_size(value)
        if (
            value_size is None
            or value_size > MAX_HEADER_VALUE_BYTES
            or name_size > MAX_HEADER_NAME_BYTES
            or name_size + value_size > budget
            or name in (REASON_HEADER, DROPPED_HEADERS_HEADER)
        ):
            continue
        kept[name] = value
        budget -= name_size + value_size
    return kept, len(headers) - len(kept)


def _value_size(value: FieldValue) -> int | None:
    """Bytes a scalar header value takes; None for tables and arrays, which are never kept."""
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, bytes | bytearray):
        return len(value)
    if value is None or isinstance(value, bool | int | float | Decimal | datetime):
        return 9
    return None
