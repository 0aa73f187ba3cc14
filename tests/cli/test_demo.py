"""`make demo`, the main job, run as the README says: it ends 0 with every workflow succeeded, one of them
started by a signed webhook through the API server."""

from __future__ import annotations

import asyncio
import sys

DEMO_SECONDS = 240  # about 20 s; this bounds a hung run


async def test_the_demo_runs_every_way_in_and_ends_with_every_workflow_succeeded() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestrator.cli", "demo",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={"COLUMNS": "200", "NO_COLOR": "1", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    printed, _ = await asyncio.wait_for(process.communicate(), DEMO_SECONDS)
    output = printed.decode(errors="replace")
    assert process.returncode == 0, output[-4000:]
    assert "4 workflows succeeded (one started by a webhook)" in output
    assert "status page http://127.0.0.1:" in output
    for kind in ("backup", "restore", "replicate"):
        assert f"workflow.succeeded   demo-{kind}-" in output, output[-4000:]
    assert "workflow.succeeded   hook:demo-alert:" in output
