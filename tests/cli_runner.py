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
    proc = await start_cli(database_url, *args, env=env)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return CliRun(proc.returncode, out.decode(), err.decode())


async def start_cli(
    database_url: str, *args: str, env: dict[str, str] | None = None
) -> asyncio.subprocess.Process:
    """``cbr-orchestrator ARGS`` started, its stdout and stderr piped: for a process that runs until told
    to stop (a worker)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CBR_ORCH_")}
    environment.update(CBR_ORCH_DATABASE_URL=database_url, COLUMNS=str(COLUMNS), NO_COLOR="1", TERM="dumb")
    environment.update(CBR_ORCH_METRICS__PORT="0")  # tests run many at once: no fixed metrics port
    environment.update(env or {})
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "orchestrator.cli",
        *args,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def line_with(stream: asyncio.StreamReader | None, text: str, within: float = 60.0) -> str:
    """Read ``stream`` until a line containing ``text``; every line read before it is kept in the error."""
    assert stream is not None
    seen: list[str] = []

    async def read() -> str:
        while line := (await stream.readline()).decode():
            seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} never came; the output was:\n{''.join(seen)}")

    try:
        return await asyncio.wait_for(read(), within)
    except TimeoutError:
        raise AssertionError(f"{text!r} not within {within} s; the output was:\n{''.join(seen)}") from None
