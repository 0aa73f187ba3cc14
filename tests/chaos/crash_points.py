"""Worker processes for crash tests: ``cbr-orchestrator worker`` in its own process, configured from
the environment only, optionally told to SIGKILL itself at a named crash point (``CBR_ORCH_CRASH_AT``).

    outcome = await run_until_crash(settings, "after_cbr_create")
    assert outcome.killed_itself                 # exit code -9: it reached the point and died there

    async with worker_process(settings) as survivor:   # a worker without a crash point
        ...                                            # wait for the work to end, then leave the block:
    # the worker is stopped with SIGTERM (SIGKILL if it does not stop in time)

The named points live in the worker's code (engine, intake, relay, poller); an unknown name is never
reached, and the worker just runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from orchestrator.config import Settings
from orchestrator.crash_points import CRASH_ENV

CRASH_POINTS = ("after_cbr_create", "after_commit_before_ack", "mid_relay_batch", "mid_poll")
KILLED = -signal.SIGKILL  # the exit code of a process that SIGKILLed itself
WORKER = (sys.executable, "-m", "orchestrator.cli", "worker")
STARTED = re.compile(r"worker \S+ started")


def worker_env(settings: Settings, crash_at: str | None = None) -> dict[str, str]:
    """``settings`` as a separate process reads them: environment variables only."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("CBR_ORCH_")}
    env |= settings.as_environment()
    if crash_at is not None:
        env[CRASH_ENV] = crash_at
    return env


@dataclass(frozen=True)
class CrashOutcome:
    crash_at: str | None
    exit_code: int
    killed_itself: bool  # it reached the crash point (exit code -9) rather than being stopped by us
    log: str  # what the worker wrote to stderr


class WorkerProcess:
    """One running worker process; its stderr goes to a temporary file (appended, read by name)."""

    def __init__(self, proc: asyncio.subprocess.Process, crash_at: str | None, log: Path) -> None:
        self.proc, self.crash_at, self._log = proc, crash_at, log
        self._kept: str | None = None  # the log as it was when the process was stopped

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def exit_code(self, within: float) -> int | None:
        """The exit code, waiting at most ``within`` seconds for the end; None while it runs on."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.proc.wait()), within)
        return self.proc.returncode

    async def stop(self, grace: float = 15) -> int:
        """SIGTERM (a graceful stop), then SIGKILL after ``grace`` seconds; the exit code."""
        if self.proc.returncode is None:
            self.proc.terminate()
            if await self.exit_code(grace) is None:
                self.proc.kill()
        return await self.proc.wait()

    async def started(self, within: float = 30) -> None:
        """Wait until the worker says it has started (its intake consumes); fails after ``within``."""
        async with asyncio.timeout(within):
            while STARTED.search(self.log()) is None:
                if self.proc.returncode is not None:
                    ended = f"the worker ended (exit code {self.proc.returncode})"
                    raise AssertionError(f"{ended}:\n{self.log()}")
                await asyncio.sleep(0.1)

    def log(self) -> str:
        """What the worker wrote to stderr so far (all of it, once the block has ended)."""
        if self._kept is not None:
            return self._kept
        return self._log.read_bytes().decode("utf-8", "replace")

    def keep_log(self) -> None:
        self._kept = self.log()


@contextlib.asynccontextmanager
async def worker_process(settings: Settings, crash_at: str | None = None) -> AsyncIterator[WorkerProcess]:
    """A worker process for the block; stopped (if still running) when the block ends."""
    with tempfile.TemporaryDirectory(prefix="chaos-worker-") as folder:
        log = Path(folder) / "stderr.log"
        with log.open("ab") as stderr:
            proc = await asyncio.create_subprocess_exec(
                *WORKER, env=worker_env(settings, crash_at), stdout=asyncio.subprocess.DEVNULL, stderr=stderr
            )
        worker = WorkerProcess(proc, crash_at, log)
        try:
            yield worker
        finally:
            await worker.stop()
            worker.keep_log()


async def run_until_crash(settings: Settings, crash_at: str, seconds: float = 30) -> CrashOutcome:
    """Run a worker until it kills itself at ``crash_at``, or stop it after ``seconds`` if it never does."""
    async with worker_process(settings, crash_at) as worker:
        code = await worker.exit_code(within=seconds)
        if code is not None:
            return CrashOutcome(crash_at, code, code == KILLED, worker.log())
        return CrashOutcome(crash_at, await worker.stop(), False, worker.log())
