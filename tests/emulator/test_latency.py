"""The emulator's latency summary: quantiles to within a bucket, memory bounded, reset to nothing."""

from __future__ import annotations

from cbr_emulator.latency import GROWTH, LatencySummary


def test_quantiles_are_read_to_within_a_bucket() -> None:
    summary = LatencySummary()
    for ms in range(1, 1001):  # 1 … 1000 ms, evenly
        summary.record(ms / 1000)
    snapshot = summary.snapshot()
    assert snapshot["count"] == 1000
    assert snapshot["max_ms"] == 1000
    assert snapshot["mean_ms"] == 500.5
    for name, exact in (("p50_ms", 500), ("p95_ms", 950), ("p99_ms", 990)):
        assert exact <= snapshot[name] <= exact * GROWTH, (name, snapshot[name])
    assert len(summary._buckets) < 200  # a few hundred counters, however many requests


def test_an_empty_summary_has_no_quantiles() -> None:
    assert LatencySummary().snapshot() == {
        "count": 0, "mean_ms": None, "p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None,
    }  # fmt: skip


def test_no_quantile_exceeds_the_slowest_request() -> None:
    summary = LatencySummary()
    summary.record(0.0)
    summary.record(0.0123)
    assert summary.snapshot()["p99_ms"] == summary.snapshot()["max_ms"] == 12.3
    assert summary.quantile_ms(0.5) == 0.01  # the first bucket: at most 10 µs
