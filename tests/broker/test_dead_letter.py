"""The dead-letter copy keeps only small original headers, so its header frame always fits frame_max."""

from __future__ import annotations

from datetime import UTC, datetime

from orchestrator.broker.dead_letter import MAX_KEPT_HEADERS_BYTES, kept_headers
from orchestrator.broker.topology import DROPPED_HEADERS_HEADER, REASON_HEADER


def test_small_scalar_headers_are_kept_in_order() -> None:
    headers = {"trace": "abc", "n": 3, "ok": True, "at": datetime(2030, 1, 1, tzinfo=UTC), "raw": b"\x01"}
    assert kept_headers(headers) == (headers, 0)


def test_a_huge_header_is_dropped_and_counted() -> None:
    kept, dropped = kept_headers({"trace": "abc", "big": "y" * 131_000})
    assert (kept, dropped) == ({"trace": "abc"}, 1)


def test_tables_arrays_and_our_own_headers_are_never_inherited() -> None:
    headers = {
        "x-death": [{"count": 1}],
        "nested": {"a": "b"},
        REASON_HEADER: "forged",
        DROPPED_HEADERS_HEADER: 0,
        "keep": "me",
    }
    assert kept_headers(headers) == ({"keep": "me"}, 4)


def test_many_small_headers_stay_within_the_budget() -> None:
    headers = {f"h{i:04d}": "v" * 200 for i in range(1000)}
    kept, dropped = kept_headers(headers)
    assert sum(len(k) + len(str(v)) for k, v in kept.items()) <= MAX_KEPT_HEADERS_BYTES
    assert len(kept) == MAX_KEPT_HEADERS_BYTES // 205 and dropped == 1000 - len(kept)
    assert list(kept) == [f"h{i:04d}" for i in range(len(kept))]
