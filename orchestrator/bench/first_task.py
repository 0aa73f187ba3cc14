"""Time to the first backup task of a fleet selected by protectables (issue 12, streaming selection).

One fleet of ``--servers`` servers selected as users do (``{protectables: {types: ["server"]}}``), through
the queue to a real worker process, against an emulator process at ``--rps`` requests per second, capacity
``--capacity`` backup tasks and ``--task-seconds`` per task. The emulator's counters are read every 50 ms:
the figures are seconds from the first answered ``list_protectable`` to the first ``create_checkpoint``,
and to the last ``list_protectable`` (±50 ms). Run by path, so that ``PYTHONPATH`` picks the orchestrator
measured (another checkout's, for a before/after in one run)::

    PYTHONPATH=/path/to/other/checkout .venv/bin/python orchestrator/bench/first_task.py --servers 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from typing import Any

from cbr_emulator.config import DEFAULT_TENANT
from orchestrator.bench.emulator_process import EmulatorLimits, EmulatorProcess
from orchestrator.bench.queue_run import QueuePlan, run_through_queue
from orchestrator.config import RateLimitSettings, WorkerSettings
from orchestrator.messages import FleetBackupCommand

TICK = 0.05


def by_protectables() -> FleetBackupCommand:
    t = DEFAULT_TENANT
    return FleetBackupCommand.model_validate(
        {
            "command_id": f"bench-first-{uuid.uuid4().hex[:8]}",
            "project_id": t.project_id,
            "region": t.region,
            "select": {"protectables": {"types": ["server"]}},
            "auto_vaults": {"name_prefix": "bench", "size_gb": 1_000_000},
        }
    )


class Watch:
    """When (monotonic seconds) the counted operations were first and last seen to move."""

    def __init__(self) -> None:
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.seen: dict[str, int] = {}

    def read(self, by_operation: dict[str, int], now: float) -> None:
        for op, n in by_operation.items():
            if n > self.seen.get(op, 0):
                self.first.setdefault(op, now)
                self.last[op] = now
                self.seen[op] = n


async def watch(emulator: EmulatorProcess, into: Watch, stop: asyncio.Event) -> None:
    while not stop.is_set():
        counters = await emulator.counters()
        into.read(dict(counters["requests"]["by_operation"]), time.monotonic())
        await asyncio.sleep(TICK)


async def measure(servers: int, limits: EmulatorLimits) -> dict[str, Any]:
    async with EmulatorProcess(servers, limits) as emulator:
        plan = QueuePlan(
            [by_protectables()],
            1,
            emulator.base_url,
            expected=1,
            counted=lambda e: e["data"]["kind"] == "fleet_backup" and e["data"]["outcome"] != "progress",
            tuning=WorkerSettings(),
            rate_limit=RateLimitSettings(),
            workers_first=True,
            wait_seconds=600,
            label="first",
        )
        seen, stop = Watch(), asyncio.Event()
        watching = asyncio.create_task(watch(emulator, seen, stop))
        run = await run_through_queue(plan)
        stop.set()
        await watching
        counters = await emulator.counters()
    listed = seen.first["list_protectable"]
    [final] = run.tally.kept.values()
    return {
        "servers": servers,
        "first_checkpoint_after_first_page_s": round(seen.first["create_checkpoint"] - listed, 2),
        "last_page_after_first_page_s": round(seen.last["list_protectable"] - listed, 2),
        "list_protectable_calls": counters["requests"]["by_operation"]["list_protectable"],
        "wall_s": round(run.counted_after, 2),
        "outcome": final["data"]["outcome"],
        "succeeded": final["data"]["fleet"]["counts"]["succeeded"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=2000)
    parser.add_argument("--rps", type=float, default=20)
    parser.add_argument("--capacity", type=int, default=200)
    parser.add_argument("--task-seconds", type=float, default=3)
    args = parser.parse_args()
    limits = EmulatorLimits(
        backup_capacity=args.capacity, requests_per_second=args.rps, task_seconds=args.task_seconds
    )
    print(json.dumps(asyncio.run(measure(args.servers, limits))))


if __name__ == "__main__":
    main()
