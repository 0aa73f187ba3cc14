"""What goes wrong during the chaos window, all at once and on a schedule.

* every ``chaos_every_seconds`` a random worker is SIGKILLed and another SIGTERMed (both replaced at once);
* the emulator's fault plans (:mod:`orchestrator.bench.soak.faults`) follow each other in equal shares of the
  window (a plan that has fired nothing by the end of its share stays up to one share more), and are
  cleared at the end;
* RabbitMQ is SIGKILLed and started again at a third of the window, PostgreSQL stopped ``immediate``
  (a crash for every client) and started again two seconds later at two thirds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orchestrator.bench.emulator_process import EmulatorProcess
from orchestrator.bench.soak.faults import fault_plans
from orchestrator.bench.soak.options import SoakOptions
from orchestrator.bench.soak.services import PrivatePostgres, PrivateRabbit
from orchestrator.bench.soak.workers import WorkerPool

POSTGRES_DOWN_SECONDS = 2.0


@dataclass
class Restart:
    service: str
    at_seconds: float  # from the start of the window
    took_seconds: float


@dataclass
class ChaosLog:
    restarts: list[Restart] = field(default_factory=list)
    fault_plans: list[dict[str, Any]] = field(default_factory=list)  # name, seconds, fired


class Chaos:
    def __init__(
        self,
        options: SoakOptions,
        pool: WorkerPool,
        emulator: EmulatorProcess,
        postgres: PrivatePostgres,
        rabbit: PrivateRabbit,
    ) -> None:
        self.options = options
        self.pool = pool
        self.emulator = emulator
        self.rabbit = rabbit
        self.postgres = postgres
        self.log = ChaosLog()
        self._began = 0.0

    async def run(self, window: float) -> None:
        """Run every kind of chaos until ``window`` seconds have passed (and any restart under way ended)."""
        self._began = time.monotonic()
        await asyncio.gather(self._kill(window), self._faults(window), self._restarts(window))

    def _left(self, window: float) -> float:
        return window - (time.monotonic() - self._began)

    async def _kill(self, window: float) -> None:
        every = self.options.chaos_every_seconds
        while self._left(window) > every:
            await asyncio.sleep(every)
            victim = self.pool.pick()
            if victim is not None:
                await self.pool.kill(victim)
            other = self.pool.pick(settled_for=every)
            if other is not None:
                await self.pool.terminate(other)

    async def _faults(self, window: float) -> None:
        plans = fault_plans(self.options.hang_seconds)
        unit = window / sum(plan.share for plan in plans)
        try:
            for number, plan in enumerate(plans):
                await self.emulator.admin("PUT", "/_emulator/faults", plan.body(self.options.seed + number))
                began = time.monotonic()
                await asyncio.sleep(max(0.0, min(unit * plan.share, self._left(window))))
                fired = await self._fired_until_one(deadline=began + 2 * unit * plan.share)
                seconds = round(time.monotonic() - began, 1)
                self.log.fault_plans.append({"name": plan.name, "seconds": seconds, "fired": fired})
        finally:
            await self.emulator.admin("DELETE", "/_emulator/faults")

    async def _fired_until_one(self, deadline: float) -> int:
        """The faults the plan in force has fired. A plan that has fired none yet (its calls came late, on a
        loaded machine) stays in force until it fires one or ``deadline`` passes: each is seen at work."""
        while True:
            applied = await self.emulator.admin("GET", "/_emulator/faults")
            fired = sum(int(rule["fired"]) for rule in applied["rules"])
            if fired or time.monotonic() >= deadline:
                return fired
            await asyncio.sleep(0.5)

    async def _restarts(self, window: float) -> None:
        await asyncio.sleep(window / 3)
        await self._restart("rabbitmq (SIGKILL)", lambda: self.rabbit.restart(hard=True))
        await asyncio.sleep(max(0.0, window * 2 / 3 - (time.monotonic() - self._began)))
        await self._restart("postgresql (immediate)", lambda: self.postgres.restart(POSTGRES_DOWN_SECONDS))

    async def _restart(self, service: str, restart: Callable[[], None]) -> None:
        at = time.monotonic() - self._began
        await asyncio.to_thread(restart)
        took = time.monotonic() - self._began - at
        self.log.restarts.append(Restart(service, round(at, 1), round(took, 1)))
