"""The API's benchmark runs and reports its figures (``python -m orchestrator.bench.api_throughput``)."""

from __future__ import annotations

from api_helpers import workflow_count

from orchestrator.bench.api_throughput import measure
from orchestrator.config import Settings
from orchestrator.store import Store


async def test_the_benchmark_counts_the_commands_a_separate_api_process_accepted(
    api_settings: Settings, store: Store
) -> None:
    figures = await measure(api_settings.database_url, seconds=1.0, clients=4)
    assert figures.accepted > 0 and figures.refused == 0
    assert figures.accepted == await workflow_count(store)
    assert figures.per_second > 0 and 0 < figures.p50_ms <= figures.p95_ms
    assert "accepted commands/s with Idempotency-Keys" in figures.line()
