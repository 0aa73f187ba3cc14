"""The CI soak: ``cbr-orchestrator soak --quick`` (about two minutes) holds every guarantee under chaos.

120 commands of every kind, duplicates and bad messages, three worker processes SIGKILLed and SIGTERMed
every four seconds, every kind of fault plan on the emulator, one RabbitMQ and one PostgreSQL restart.
The command's own verdict decides: no command lost, no CBR side effect duplicated, no valid command
dead-lettered, no bad message dropped in silence (exit code 0). The test also checks that the chaos did
happen, so that a quiet run cannot pass for a proof.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.soak

PATIENCE_SECONDS = 300


async def test_quick_soak_holds_every_guarantee_under_chaos(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    args = ["-m", "orchestrator.cli", "soak", "--quick", "--json-out", str(out), "--logs-dir", str(tmp_path)]
    process = await asyncio.create_subprocess_exec(
        sys.executable, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    printed, _ = await asyncio.wait_for(process.communicate(), PATIENCE_SECONDS)
    table = printed.decode(errors="replace")
    assert out.exists(), f"exit {process.returncode}, no JSON written:\n{table[-6000:]}"
    result = json.loads(out.read_text())

    assert [r["service"] for r in result["chaos"]["restarts"]] == [
        "rabbitmq (SIGKILL)",
        "postgresql (immediate)",
    ]
    assert result["workers"]["killed"] >= 5 and result["workers"]["terminated"] >= 5, table
    fired = {"throttle", "error", "timeout", "error_after_execute", "latency"}
    assert fired <= set(result["faults_fired"]), table
    figures = result["figures"]
    assert figures["accepted"] == figures["commands"] == 120
    assert result["failures"] == [], table
    assert result["settled"], table
    assert process.returncode == 0, table
