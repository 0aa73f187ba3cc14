"""Run ``cbr-orchestrator`` as a user does: a separate process on a given database, its output captured."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass

COLUMNS = 400  # wide enough that no table cell the tests look for is wrapped or cut


@dataclass(frozen=True)
class CliRun:
    code: int
    stdout: str
    stderr: str


async def run_cli(database_url: str, *args: str, env: dict[str, str] | None = None) -> CliRun:
    """``cbr-orchestrator ARGS`` on ``database_url``, with ``env`` on top of a clean environment."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CBR_ORCH_")}
    environment.update(CBR_ORCH_DATABASE_URL=database_url, COLUMNS=str(COLUMNS), NO_COLOR="1", TERM="dumb")
    environment.update(CBR_ORCH_METRICS__PORT="0")  # tests run many at once: no fixed metrics port
    environment.update(env or {})
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "orchestrator.cli",
        *args,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return CliRun(proc.returncode, out.decode(), err.decode())
