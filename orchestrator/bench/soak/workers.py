"""The worker processes: ``python -m orchestrator.cli worker``, configured by environment variables only.

:class:`WorkerPool` keeps ``size`` workers consuming: it starts them, SIGKILLs or SIGTERMs one on request
and starts a replacement at once, lets a terminated worker drain (SIGKILLing it only when it overstays
its grace), and replaces a worker that exited by itself, counting each of these.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from orchestrator.config import Settings

RESTART_PAUSE_SECONDS = 0.5  # before replacing a worker that exited by itself (e.g. the database was down)


def worker_environment(settings: Settings) -> dict[str, str]:
    """The settings as a worker process reads them: ``CBR_ORCH_*`` environment variables only."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("CBR_ORCH_")}
    return inherited | settings.as_environment()


@dataclass
class Worker:
    number: int
    process: asyncio.subprocess.Process
    log: IO[bytes] | None
    started_at: float = field(default_factory=time.monotonic)
    signalled: str | None = None  # "SIGKILL" / "SIGTERM" once we sent it


@dataclass
class PoolFigures:
    started: int = 0
    killed: int = 0
    terminated: int = 0
    overstayed_sigterm: int = 0  # still running ``term_grace`` after SIGTERM: SIGKILLed
    exited_alone: dict[int, int] = field(default_factory=dict)  # exit code → count
    terminated_exit_codes: dict[int, int] = field(default_factory=dict)


class WorkerPool:
    def __init__(
        self, settings: Settings, size: int, term_grace: float, logs_dir: Path | None, rng: random.Random
    ) -> None:
        self._env = worker_environment(settings)
        self.size = size
        self.term_grace = term_grace
        self._logs_dir = logs_dir
        self._rng = rng
        self._live: list[Worker] = []
        self._leaving: set[asyncio.Task[None]] = set()
        self._numbers = 0
        self.figures = PoolFigures()
        self._watching = True
        self._starting = asyncio.Lock()

    async def start(self) -> None:
        """Bring the pool up to ``size`` live workers."""
        async with self._starting:  # a replacement after a crash and one after a kill must not both start
            while self._watching and len(self._live) < self.size:
                await self._spawn()

    async def _spawn(self) -> None:
        self._numbers += 1
        log = None
        if self._logs_dir is not None:
            log = (self._logs_dir / f"worker-{self._numbers:03d}.log").open("ab")
        out = log if log is not None else asyncio.subprocess.DEVNULL
        command = (sys.executable, "-m", "orchestrator.cli", "worker")
        process = await asyncio.create_subprocess_exec(
            *command, env=self._env, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out
        )
        worker = Worker(self._numbers, process, log)
        self._live.append(worker)
        self.figures.started += 1
        self._track(self._watch(worker))

    def _track(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._leaving.add(task)
        task.add_done_callback(self._leaving.discard)

    async def _watch(self, worker: Worker) -> None:
        """Replace a worker that exits without being told to (a crash, or no database at start)."""
        code = await worker.process.wait()
        if worker.log is not None:
            worker.log.close()
        if worker.signalled is not None or not self._watching:
            return
        _count(self.figures.exited_alone, code)
        if worker in self._live:
            self._live.remove(worker)
        await asyncio.sleep(RESTART_PAUSE_SECONDS)
        if self._watching:
            await self.start()

    def pick(self, settled_for: float = 0.0) -> Worker | None:
        """A random live worker; preferably one up for ``settled_for`` seconds (past its start-up, so a
        SIGTERM meets its graceful shutdown rather than a process still starting)."""
        live = [w for w in self._live if w.process.returncode is None]
        settled = [w for w in live if time.monotonic() - w.started_at >= settled_for]
        choices = settled or live
        return self._rng.choice(choices) if choices else None

    async def kill(self, worker: Worker) -> None:
        """SIGKILL: no chance to clean up; a replacement starts at once."""
        worker.signalled = "SIGKILL"
        self._live.remove(worker)
        with contextlib.suppress(ProcessLookupError):
            worker.process.send_signal(signal.SIGKILL)
        self.figures.killed += 1
        await self.start()

    async def terminate(self, worker: Worker) -> None:
        """SIGTERM: the worker drains on its own while a replacement starts at once."""
        worker.signalled = "SIGTERM"
        self._live.remove(worker)
        with contextlib.suppress(ProcessLookupError):
            worker.process.send_signal(signal.SIGTERM)
        self.figures.terminated += 1
        self._track(self._drain(worker))
        await self.start()

    async def _drain(self, worker: Worker) -> None:
        try:
            code = await asyncio.wait_for(worker.process.wait(), self.term_grace)
        except TimeoutError:
            self.figures.overstayed_sigterm += 1
            with contextlib.suppress(ProcessLookupError):
                worker.process.send_signal(signal.SIGKILL)
            code = await worker.process.wait()
        _count(self.figures.terminated_exit_codes, code)

    async def stop(self) -> list[int]:
        """SIGTERM every live worker, wait for all (SIGKILL after the grace); their exit codes."""
        async with self._starting:  # no replacement starts behind our back
            self._watching = False
            stopping, self._live = self._live, []
        for worker in stopping:
            worker.signalled = "SIGTERM"
            with contextlib.suppress(ProcessLookupError):
                worker.process.send_signal(signal.SIGTERM)
        codes = []
        for worker in stopping:
            try:
                codes.append(await asyncio.wait_for(worker.process.wait(), self.term_grace))
            except TimeoutError:
                self.figures.overstayed_sigterm += 1
                worker.process.kill()
                codes.append(await worker.process.wait())
        await asyncio.gather(*self._leaving, return_exceptions=True)
        return codes


def _count(counts: dict[int, int], code: int) -> None:
    counts[code] = counts.get(code, 0) + 1
