"""Scenario (a): single-server backup workflows end to end through the queue, instant emulator.

Workers (real ``cbr-orchestrator worker`` processes) are started first and consume the commands queue;
then every command is published with pipelined confirms. *Commands/s in* is the rate at which the
broker accepted them, *events/s out* the rate of distinct completion events from the first publish to
the last event. The workers' CPU time over the same span, per workflow, is the figure that holds on any
machine.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from orchestrator.bench.emulator_process import EmulatorLimits, EmulatorProcess, server_ids
from orchestrator.bench.queue_run import QueuePlan, backup_commands, run_through_queue


@dataclass
class ThroughputFigures:
    commands: int
    workers: int
    succeeded: int = 0
    final_events_distinct: int = 0
    publish_seconds: float = 0.0
    wall_seconds: float = 0.0
    cbr_calls: int = 0
    worker_cpu_seconds: list[float | None] = field(default_factory=list)
    worker_exit_codes: list[int | None] = field(default_factory=list)
    timed_out: bool = False

    @property
    def commands_per_second_in(self) -> float:
        return self.commands / self.publish_seconds if self.publish_seconds else 0.0

    @property
    def events_per_second_out(self) -> float:
        return self.final_events_distinct / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def cpu_ms_per_workflow(self) -> float | None:
        """The workers' CPU milliseconds (user + system) per workflow that succeeded."""
        if not self.succeeded or not self.worker_cpu_seconds or None in self.worker_cpu_seconds:
            return None
        return sum(c for c in self.worker_cpu_seconds if c is not None) * 1000 / self.succeeded

    @property
    def complete(self) -> bool:
        return self.succeeded == self.commands == self.final_events_distinct and not self.timed_out

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "commands_per_second_in": round(self.commands_per_second_in, 1),
            "events_per_second_out": round(self.events_per_second_out, 1),
            "cbr_calls_per_workflow": round(self.cbr_calls / self.commands, 2) if self.commands else None,
            "cpu_ms_per_workflow": None if (cpu := self.cpu_ms_per_workflow) is None else round(cpu, 3),
            "complete": self.complete,
        }


async def measure_throughput(commands: int, workers: int, wait_seconds: float) -> ThroughputFigures:
    """``commands`` single-server backups through ``workers`` worker processes; a fresh emulator."""
    async with EmulatorProcess(commands, EmulatorLimits()) as emulator:
        plan = QueuePlan(
            backup_commands(server_ids(commands)),
            workers,
            emulator.base_url,
            expected=commands,
            workers_first=True,
            wait_seconds=wait_seconds,
            label="bench",
        )
        run = await run_through_queue(plan)
        counters = await emulator.counters()
    return ThroughputFigures(
        commands=commands,
        workers=workers,
        succeeded=run.workflows.get("succeeded", 0),
        final_events_distinct=len(run.tally.kept),
        publish_seconds=round(run.published_after, 3),
        wall_seconds=round(run.counted_after, 3),
        cbr_calls=int(counters["requests"]["total"]),
        worker_cpu_seconds=run.worker_cpu_seconds,
        worker_exit_codes=run.worker_exit_codes,
        timed_out=run.timed_out,
    )
