"""The soak command's machinery, small: 20 backups through the queue with two real worker processes."""

from __future__ import annotations

from orchestrator.soak import figures_table, run_soak


async def test_soak_of_twenty_commands_with_two_workers() -> None:
    figures = await run_soak(commands=20, workers=2, wait_seconds=60)
    assert not figures.timed_out
    assert figures.workflows_total == 20
    assert figures.workflows == {"succeeded": 20}
    assert figures.final_events_distinct == 20
    assert figures.checkpoints == 20
    assert figures.cbr_calls_by_operation["create_checkpoint"] == 20
    assert figures.worker_exit_codes == [0, 0]
    assert figures.ok
    assert figures.to_json()["ok"] is True
    assert figures_table(figures).row_count == 10
